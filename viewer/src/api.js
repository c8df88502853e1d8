// The server's scene API (core/xr/server.py). URLs are relative to the viewer page (/xr/<scene>), so the app
// may sit under a base path.

async function answer(response) {
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

export function sceneApi(sceneId) {
  const base = `../api/scenes/${encodeURIComponent(sceneId)}`;
  return {
    modelUrl: `${base}/model.glb`,
    list: () => fetch(`${base}/annotations`, { cache: "no-store" }).then(answer),
    add: (position, label) =>
      fetch(`${base}/annotations`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ position, label }),
      }).then(answer),
    rename: (id, label) =>
      fetch(`${base}/annotations/${id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ label }),
      }).then(answer),
    remove: (id) => fetch(`${base}/annotations/${id}`, { method: "DELETE" }).then(answer),
  };
}
