import axios from 'axios';
(async () => {
  const wf = await axios.post(`${process.env.API}/api/workflows`, {
    name: 'hp',
    version: '0.1.0',
    tasks: [{ id: 't1', uses: 'pkg:demo/echo@1.0.0' }],
  });
  await axios.post(`${process.env.API}/api/workflows/${wf.data.id}/publish`);
  const exec = await axios.post(`${process.env.API}/api/executions`, {
    workflowId: wf.data.id,
    rollout: 'canary',
  });
  const rec = await axios.get(
    `${process.env.API}/api/executions/${exec.data.id}/receipt`,
  );
  console.log('status', rec.status);
})();
