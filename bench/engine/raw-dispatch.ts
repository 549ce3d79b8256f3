/**
 * One raw compute dispatch (no engine runtime in between), as the probes that time WGSL by
 * itself run it: `repeat` dispatches of one pipeline and bind group, each submitted on its own,
 * then a wait for the queue.
 */
export function rawDispatch(device: GPUDevice, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: number, repeat = 1): () => Promise<void> {
  return async () => {
    for (let i = 0; i < repeat; i++) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
      device.queue.submit([enc.finish()]);
    }
    await device.queue.onSubmittedWorkDone();
  };
}
