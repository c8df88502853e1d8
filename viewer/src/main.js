// The WebXR viewer: one scene's model (GLB, metres) and its annotation pins. On a desktop: orbit, zoom, pan,
// cut and pin with the mouse. In a headset: "Enter VR" puts the model life-size in front of the user (see
// hands.js for the controls). window.xrViewer exposes figures for tests and the benchmark.
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { VRButton } from "three/addons/webxr/VRButton.js";
import { sceneApi } from "./api.js";
import { Cut } from "./cut.js";
import { Hands } from "./hands.js";
import { Pins } from "./pins.js";
import { labelSprite } from "./text.js";

const PRESET_LABELS = ["Look here", "Opacity", "Consolidation", "Nodule", "Effusion", "Normal"];
const metrics = (window.xrViewer = { ready: false, firstFrameMs: null, frames: 0, xrFrames: 0, pins: 0, error: null });
const page = {
  body: document.body,
  stage: document.getElementById("stage"),
  status: document.getElementById("status"),
  cutOn: document.getElementById("cut-on"),
  cutAxis: document.getElementById("cut-axis"),
  cutPosition: document.getElementById("cut-position"),
  pinLabel: document.getElementById("pin-label"),
  pinMode: document.getElementById("pin-mode"),
  pins: document.getElementById("pins"),
};

function say(text, isError = false) {
  page.status.textContent = text;
  page.status.classList.toggle("error", isError);
  if (isError) metrics.error = text;
}

function fail(text) {
  say(text, true);
  page.body.dataset.state = "error";
}

async function start() {
  const api = sceneApi(page.body.dataset.scene);
  const renderer = new THREE.WebGLRenderer({ antialias: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  renderer.xr.enabled = true;
  renderer.localClippingEnabled = true;
  page.stage.append(renderer.domElement);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x202124);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x404040, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(1, 2, 3);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(45, 1, 0.01, 100);
  const holder = new THREE.Group(); // the model and its pins: what the hands grab
  scene.add(holder);

  let dirty = true;
  const invalidate = () => (dirty = true);
  const resize = () => {
    const { clientWidth: width, clientHeight: height } = page.stage;
    renderer.setSize(width, height, false);
    camera.aspect = width / Math.max(height, 1);
    camera.updateProjectionMatrix();
    invalidate();
  };
  new ResizeObserver(resize).observe(page.stage);
  resize();

  const gltf = await new GLTFLoader().loadAsync(api.modelUrl);
  const model = gltf.scene;
  const targets = [];
  const box = new THREE.Box3().setFromObject(model);
  const halfSize = box.getSize(new THREE.Vector3()).multiplyScalar(0.5);
  model.position.sub(box.getCenter(new THREE.Vector3()));
  holder.add(model);
  const cut = new Cut(holder, halfSize);
  model.traverse((node) => {
    if (!node.isMesh) return;
    targets.push(node);
    node.material.side = THREE.DoubleSide; // a cut-open surface shows its inside
    node.material.clippingPlanes = [cut.world];
  });
  const radius = halfSize.length();
  // The patient's directions, on the model (they turn with it): right and left, superior, and anterior and
  // posterior under the model's front and back edges (not over its middle, where pins go).
  const margin = radius * 0.1;
  const below = -halfSize.y - margin;
  // only where the model's axes are the patient's (a reconstruction; a relief's height is brightness)
  const patientFrame = gltf.scene.userData.patient_frame !== false;
  const markers = !patientFrame ? [] : [
    ["R", -halfSize.x - margin, 0, 0], ["L", halfSize.x + margin, 0, 0],
    ["A", 0, below, halfSize.z], ["P", 0, below, -halfSize.z], ["S", 0, halfSize.y + margin, 0],
  ];
  for (const [letter, x, y, z] of markers) {
    const marker = labelSprite(letter, radius * 0.09, { width: 64, background: "rgba(20, 20, 20, 0.6)" });
    marker.position.set(x, y, z);
    marker.name = `marker-${letter}`;
    holder.add(marker);
  }
  metrics.markers = markers.map(([letter]) => letter);

  const controls = new OrbitControls(camera, renderer.domElement);
  controls.addEventListener("change", invalidate);
  const home = () => {
    camera.near = radius / 100;
    camera.far = radius * 100;
    camera.position.set(0, 0, radius * 2.6);
    camera.updateProjectionMatrix();
    controls.target.set(0, 0, 0);
    controls.update();
  };
  home();

  const pins = new Pins({ holder, list: page.pins, api, size: radius * 0.02, onChange: invalidate, say, patientFrame });
  const labels = () => {
    const typed = page.pinLabel.value.trim();
    return typed ? [typed, ...PRESET_LABELS] : PRESET_LABELS;
  };
  const dropPin = (position, label) =>
    pins.add(position, label).then(
      (a) => say(`Pin "${a.label}" saved.`),
      (error) => say(`The pin was not saved: ${error.message}`, true),
    );
  const hands = new Hands({ renderer, scene, holder, targets, cut, labels, dropPin, changed: invalidate });

  // Desktop: the cut's controls, and pins dropped with a click (a drag is a rotation, not a click).
  const syncCut = () => {
    cut.set({ enabled: page.cutOn.checked, axis: Number(page.cutAxis.value), position: Number(page.cutPosition.value) });
    invalidate();
  };
  for (const input of [page.cutOn, page.cutAxis, page.cutPosition]) input.addEventListener("input", syncCut);
  page.pinMode.addEventListener("click", () => {
    const on = page.pinMode.getAttribute("aria-pressed") !== "true";
    page.pinMode.setAttribute("aria-pressed", String(on));
    page.stage.classList.toggle("pinning", on);
    if (on && !page.pinLabel.value.trim()) page.pinLabel.focus();
  });
  const pointer = new THREE.Vector2();
  const raycaster = new THREE.Raycaster();
  let down = null;
  renderer.domElement.addEventListener("pointerdown", (event) => (down = [event.clientX, event.clientY]));
  renderer.domElement.addEventListener("pointerup", (event) => {
    if (!down || Math.hypot(event.clientX - down[0], event.clientY - down[1]) > 5) return;
    if (page.pinMode.getAttribute("aria-pressed") !== "true") return;
    const rect = renderer.domElement.getBoundingClientRect();
    pointer.set(((event.clientX - rect.left) / rect.width) * 2 - 1, -((event.clientY - rect.top) / rect.height) * 2 + 1);
    raycaster.setFromCamera(pointer, camera);
    const hit = raycaster.intersectObjects(targets, false).find((h) => cut.keeps(h.point));
    if (!hit) return say("No part of the model under the pointer.", true);
    const label = page.pinLabel.value;
    if (!label.trim()) return say("Type a label for the pin first.", true);
    dropPin(holder.worldToLocal(hit.point.clone()), label);
  });

  // A headset: the model life-size, at chest height, half a metre beyond its own size in front of the user.
  renderer.xr.addEventListener("sessionstart", () => {
    holder.position.set(0, 1.3, -0.45 - radius);
    holder.quaternion.identity();
    holder.scale.setScalar(1);
    say("In VR.");
  });
  renderer.xr.addEventListener("sessionend", () => {
    scene.attach(holder);
    holder.position.set(0, 0, 0);
    holder.quaternion.identity();
    holder.scale.setScalar(1);
    home();
    say("Back from VR.");
    invalidate();
  });
  page.stage.append(VRButton.createButton(renderer));

  const timer = new THREE.Timer();
  renderer.setAnimationLoop((time) => {
    timer.update(time);
    const seconds = Math.min(timer.getDelta(), 0.1);
    const presenting = renderer.xr.isPresenting;
    if (presenting) hands.update(seconds);
    if (!presenting && !dirty) return;
    dirty = false;
    cut.update();
    renderer.render(scene, camera);
    metrics.frames += 1;
    if (presenting) metrics.xrFrames += 1;
    metrics.cut = { enabled: cut.enabled, axis: cut.axis, position: cut.position };
    metrics.scale = holder.scale.x;
    metrics.modelAt = holder.getWorldPosition(new THREE.Vector3()).toArray();
    if (metrics.firstFrameMs === null) {
      metrics.firstFrameMs = performance.now();
      metrics.ready = true;
      page.body.dataset.state = "ready";
    }
  });

  say("Loading the pins…");
  await pins.load();
  metrics.triangles = targets.reduce((n, m) => n + (m.geometry.index ? m.geometry.index.count : m.geometry.attributes.position.count) / 3, 0);
  metrics.sizeM = halfSize.toArray().map((v) => 2 * v);
  say(`Model: ${(metrics.sizeM[0] * 100).toFixed(0)} × ${(metrics.sizeM[1] * 100).toFixed(0)} × ${(metrics.sizeM[2] * 100).toFixed(0)} cm, ${pins.items.size} pin(s).`);
}

start().catch((error) => fail(`The model could not be shown: ${error.message}`));
