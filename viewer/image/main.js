// The image viewer of the Diagnose page, the lab and History: cornerstone3D stack viewports in a Streamlit component.
// Full resolution; window/level by drag with presets and invert; zoom and pan; length and angle in mm where the file
// gives pixel spacing (else px, said so); R/L markers from the file's orientation; the heat map and the lung outline
// as overlays; two panes kept in step for comparison. Built by viewer/build.mjs into ui/components/viewer/viewer.js.
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  imageLoader,
  init as initCore,
  metaData,
  utilities,
} from "@cornerstonejs/core";
import {
  AngleTool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  addTool,
  annotation,
  init as initTools,
  synchronizers,
} from "@cornerstonejs/tools";

import { connect, setFrameHeight } from "./streamlit.js";
import { Overlay } from "./overlay.js";
import { decodePixels } from "./pixels.js";

const { MouseBindings } = ToolEnums;
const TOOLS = { window: WindowLevelTool, pan: PanTool, zoom: ZoomTool, length: LengthTool, angle: AngleTool };
const SHORTCUTS = [
  ["W", "window/level (drag: left–right width, up–down level)"],
  ["P", "pan"],
  ["Z", "zoom (or the mouse wheel, or right drag)"],
  ["L", "measure a length"],
  ["A", "measure an angle"],
  ["I", "invert"],
  ["1–4", "presets: full range, lung, mediastinum, bone"],
  ["H", "heat map on/off"],
  ["O", "lung outline on/off"],
  ["R", "reset the view"],
  ["Del", "clear the measurements"],
];
// Presets as shares of the displayed grey range (the file's own window already applied): radiographs carry no
// Hounsfield units, so these are the usual contrasts, not CT windows.
const PRESETS = {
  full: { label: "Full range", centre: 0.5, width: 1.0 },
  lung: { label: "Lung", centre: 0.4, width: 0.6 },
  mediastinum: { label: "Mediastinum", centre: 0.6, width: 0.4 },
  bone: { label: "Bone", centre: 0.75, width: 0.5 },
};

const state = {
  engine: null, panes: [], group: null, syncs: [], signature: "", tool: "window", invert: false, outline: false,
  opacity: 0.6, generation: 0, maxHeight: 520,
};

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// Pane metadata, answered for our "xray:" image ids.
const META = new Map();
metaData.addProvider((type, imageId) => META.get(imageId)?.[type], 10000);

function register(pane, index, pixels) {
  const imageId = `xray:${state.signature}:${index}`;
  const { width, height, spacing, max } = pane;
  const plane = {
    rows: height,
    columns: width,
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    rowCosines: [1, 0, 0],
    columnCosines: [0, 1, 0],
    imagePositionPatient: [0, 0, 0],
    frameOfReferenceUID: `xray-frame-${index}`,
    ...(spacing ? { pixelSpacing: spacing, rowPixelSpacing: spacing[0], columnPixelSpacing: spacing[1] } : {}),
  };
  META.set(imageId, {
    imagePlaneModule: plane,
    imagePixelModule: {
      samplesPerPixel: 1, photometricInterpretation: "MONOCHROME2", rows: height, columns: width,
      bitsAllocated: 16, bitsStored: 16, highBit: 15, pixelRepresentation: 0,
    },
    generalSeriesModule: { modality: "DX" },
    modalityLutModule: { rescaleSlope: 1, rescaleIntercept: 0 },
    voiLutModule: { windowCenter: [max / 2], windowWidth: [max + 1] },
  });
  const voxelManager = utilities.VoxelManager.createImageVoxelManager({
    width, height, numberOfComponents: 1, scalarData: pixels, id: imageId,
  });
  META.get(imageId).image = {
    imageId, intercept: 0, slope: 1, windowCenter: max / 2, windowWidth: max + 1, color: false, rgba: false,
    numberOfComponents: 1, minPixelValue: 0, maxPixelValue: max, rows: height, columns: width, height, width,
    columnPixelSpacing: spacing ? spacing[1] : undefined, rowPixelSpacing: spacing ? spacing[0] : undefined,
    invert: false, getPixelData: () => voxelManager.getScalarData(), voxelManager, sizeInBytes: pixels.byteLength,
    getCanvas: undefined, dataType: "Uint16Array",
  };
  return imageId;
}

function voiOf(preset, max) {
  const { centre, width } = PRESETS[preset];
  return { lower: (centre - width / 2) * max, upper: (centre + width / 2) * max };
}

function setTool(name) {
  state.tool = name;
  for (const tool of Object.keys(TOOLS)) {
    const toolName = TOOLS[tool].toolName;
    if (tool === name) state.group.setToolActive(toolName, { bindings: [{ mouseButton: MouseBindings.Primary }] });
    else if (tool === "pan") state.group.setToolActive(toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    else if (tool === "zoom")
      state.group.setToolActive(toolName, {
        bindings: [{ mouseButton: MouseBindings.Secondary }, { mouseButton: MouseBindings.Wheel }],
      });
    else if (tool === "length" || tool === "angle") state.group.setToolPassive(toolName);
    else state.group.setToolDisabled(toolName);
  }
  document.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === name)));
}

function applyPreset(name) {
  for (const pane of state.panes) {
    pane.viewport.setProperties({ voiRange: voiOf(name, pane.max), invert: state.invert });
    pane.viewport.render();
  }
}

function setInvert(on) {
  state.invert = on;
  for (const pane of state.panes) {
    pane.viewport.setProperties({ invert: on });
    pane.viewport.render();
  }
  document.querySelector("[data-action=invert]")?.setAttribute("aria-pressed", String(on));
}

function reset() {
  for (const pane of state.panes) {
    pane.viewport.resetCamera();
    pane.viewport.resetProperties();
    pane.viewport.setProperties({ voiRange: voiOf("full", pane.max), invert: false });
    pane.viewport.render();
  }
  state.invert = false;
  document.querySelector("[data-action=invert]")?.setAttribute("aria-pressed", "false");
}

function clearMeasurements() {
  annotation.state.removeAllAnnotations();
  for (const pane of state.panes) pane.viewport.render();
  report();
}

function setOpacity(value) {
  for (const pane of state.panes) pane.overlay.setOpacity(value);
  const slider = document.querySelector("[aria-label='Heat map opacity']");
  if (slider) slider.value = String(Math.round(value * 100));
}

function toggleLayer(layer, on) {
  for (const pane of state.panes) pane.overlay.set(layer, on);
  const box = document.querySelector(`[data-layer=${layer}]`);
  if (box) box.checked = on;
}

// What scripts (and the tests) can read back: measurements with their units, each pane's window and zoom. Nothing
// is sent to the page: a value would rerun it on every drag.
function snapshot() {
  const measurements = annotation.state.getAllAnnotations().map((item) => {
    const stats = Object.values(item.data.cachedStats || {})[0] || {};
    const tool = item.metadata.toolName;
    return tool === LengthTool.toolName
      ? { tool: "length", value: stats.length, unit: stats.unit }
      : { tool: "angle", value: stats.angle, unit: "°" };
  });
  const panes = state.panes.map((pane) => {
    const { voiRange, invert } = pane.viewport.getProperties();
    const camera = pane.viewport.getCamera();
    return {
      title: pane.title, lower: voiRange?.lower, upper: voiRange?.upper, invert: !!invert,
      zoom: pane.viewport.getZoom(), pan: pane.viewport.getPan(), parallelScale: camera.parallelScale,
    };
  });
  return { measurements, panes };
}

function report() {
  const now = snapshot();
  window.xrayViewer.state = now;
  const list = document.getElementById("measurements");
  if (list) {
    list.replaceChildren(
      ...now.measurements
        .filter((m) => Number.isFinite(m.value))
        .map((m) => el("li", {}, `${m.tool === "length" ? "Length" : "Angle"}: ${m.value.toFixed(m.unit === "°" ? 1 : 2)} ${m.unit}`)),
    );
  }
}

function toolbar(args) {
  const button = (label, attrs, onclick, title) => el("button", { type: "button", title, ...attrs, onclick }, label);
  const presets = el("select", { "aria-label": "Window preset", onchange: (e) => applyPreset(e.target.value) },
    ...Object.entries(PRESETS).map(([key, p]) => el("option", { value: key }, p.label)));
  const bar = el("div", { class: "bar", role: "toolbar" },
    ...Object.keys(TOOLS).map((tool) =>
      button({ window: "Window", pan: "Pan", zoom: "Zoom", length: "Length", angle: "Angle" }[tool],
        { "data-tool": tool, "aria-pressed": "false" }, () => setTool(tool), `shortcut ${tool[0].toUpperCase()}`)),
    presets,
    button("Invert", { "data-action": "invert", "aria-pressed": "false" }, () => setInvert(!state.invert), "shortcut I"),
    button("Reset", { "data-action": "reset" }, reset, "shortcut R"),
    button("Clear", { "data-action": "clear" }, clearMeasurements, "clear the measurements (Del)"));
  if (args.panes.some((p) => p.heat)) {
    bar.append(el("label", {}, el("input", { type: "checkbox", "data-layer": "heat", checked: "", onchange: (e) => toggleLayer("heat", e.target.checked) }), " Heat map"),
      el("input", { type: "range", min: "0", max: "100", value: String(Math.round((args.opacity ?? 0.6) * 100)), "aria-label": "Heat map opacity",
        oninput: (e) => setOpacity(Number(e.target.value) / 100) }));
  }
  if (args.panes.some((p) => p.outline)) {
    bar.append(el("label", {}, el("input", { type: "checkbox", "data-layer": "outline", ...(args.outline ? { checked: "" } : {}), onchange: (e) => toggleLayer("outline", e.target.checked) }), " Lung outline"));
  }
  if (args.panes.length > 1) {
    bar.append(el("label", {}, el("input", { type: "checkbox", "data-action": "link", checked: "", onchange: (e) => state.syncs.forEach((s) => (e.target.checked ? s.setEnabled(true) : s.setEnabled(false))) }), " Linked"));
  }
  return bar;
}

function keys(event) {
  if (event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
  const key = event.key.toLowerCase();
  const tool = { w: "window", p: "pan", z: "zoom", l: "length", a: "angle" }[key];
  if (tool) setTool(tool);
  else if (key === "i") setInvert(!state.invert);
  else if (key === "r") reset();
  else if (key === "h") toggleLayer("heat", !document.querySelector("[data-layer=heat]")?.checked);
  else if (key === "o") toggleLayer("outline", !document.querySelector("[data-layer=outline]")?.checked);
  else if (key === "delete" || key === "backspace") clearMeasurements();
  else if ("1234".includes(key)) {
    const preset = Object.keys(PRESETS)[Number(key) - 1];
    document.querySelector("select").value = preset;
    applyPreset(preset);
  } else return;
  event.preventDefault();
}

async function render(args) {
  const signature = args.signature;
  if (signature === state.signature) {
    // same images: keep the view as the user left it, follow the page's overlay settings
    if (args.outline !== state.outline) toggleLayer("outline", args.outline);
    if (args.opacity !== state.opacity) setOpacity(args.opacity);
    state.outline = args.outline;
    state.opacity = args.opacity;
    return;
  }
  state.outline = args.outline;
  state.opacity = args.opacity;
  const generation = ++state.generation; // a newer render supersedes this one after any await
  state.engine?.destroy();
  state.engine = null;
  cache.purgeCache(); // the previous images (tens of MB each)
  META.clear();
  state.syncs.forEach((s) => s.destroy());
  state.syncs = [];
  if (state.group) ToolGroupManager.destroyToolGroup(state.group.id);
  annotation.state.removeAllAnnotations();
  state.signature = signature;
  const root = document.getElementById("root");
  const height = args.height;
  state.maxHeight = height;
  const grid = el("div", { class: `panes n${args.panes.length}` });
  root.replaceChildren(toolbar(args), grid,
    el("ul", { id: "measurements", "aria-label": "Measurements" }),
    el("details", { class: "keys" }, el("summary", {}, "Keyboard shortcuts"),
      el("dl", {}, ...SHORTCUTS.flatMap(([k, what]) => [el("dt", {}, k), el("dd", {}, what)]))));
  state.engine = new RenderingEngine(`xray-${Date.now()}`);
  state.group = ToolGroupManager.createToolGroup(`tools-${Date.now()}`);
  for (const tool of Object.values(TOOLS)) state.group.addTool(tool.toolName);
  state.panes = [];
  for (const [index, pane] of args.panes.entries()) {
    const element = el("div", { class: "viewport" });
    element.oncontextmenu = (e) => e.preventDefault();
    const marks = pane.orientation
      ? ["left", "right", "top", "bottom"].filter((side) => pane.orientation[side]).map((side) =>
          el("span", { class: `mark ${side}`, title: "patient orientation from the file" }, pane.orientation[side]))
      : [];
    const units = el("span", { class: "units" }, pane.spacing
      ? `${pane.spacing[1].toFixed(3)} × ${pane.spacing[0].toFixed(3)} mm pixels` +
          (pane.spacing_at === "detector" ? " at the detector (lengths in the body about 10 % shorter)" : "")
      : pane.source[0] === pane.width
        ? "no pixel spacing in this file: lengths in px"
        : "resized: lengths in px of this image");
    const shrunk = pane.source[0] > pane.width && pane.spacing ? ` · shown at ${pane.width} × ${pane.height} of ${pane.source[0]} × ${pane.source[1]} px` : "";
    const wrapper = el("figure", { class: "pane" }, el("figcaption", {}, pane.title, " ", units, shrunk), el("div", { class: "stage" }, element, ...marks));
    grid.append(wrapper);
    // as tall as the image at this width, at most the page's height for it
    const fitted = Math.round((element.clientWidth || 600) * (pane.height / pane.width));
    element.style.height = `${Math.max(200, Math.min(height, fitted))}px`;
    const viewportId = `pane-${index}`;
    state.engine.enableElement({ viewportId, element, type: Enums.ViewportType.STACK });
    const viewport = state.engine.getViewport(viewportId);
    const pixels = await decodePixels(pane.pixels, pane.width * pane.height);
    if (generation !== state.generation) return;
    const imageId = register(pane, index, pixels);
    await viewport.setStack([imageId], 0);
    if (generation !== state.generation) return;
    viewport.setProperties({ voiRange: voiOf("full", pane.max) });
    state.group.addViewport(viewportId, state.engine.id);
    const overlay = new Overlay(element, viewport, imageId, pane, args);
    await overlay.ready;
    if (generation !== state.generation) return;
    state.panes.push({ ...pane, viewport, overlay, element });
    viewport.render();
  }
  if (state.panes.length > 1) {
    const ids = state.panes.map((_, i) => ({ renderingEngineId: state.engine.id, viewportId: `pane-${i}` }));
    const camera = synchronizers.createZoomPanSynchronizer(`zoom-pan-${Date.now()}`);
    ids.forEach((id) => camera.add(id));
    state.syncs = [camera];
    // the window is linked only between images on the same grey scale (0-255 and 0-4095 windows differ)
    if (new Set(state.panes.map((p) => p.max)).size === 1) {
      const voi = synchronizers.createVOISynchronizer(`voi-${Date.now()}`, { syncInvertState: true, syncColormap: false });
      ids.forEach((id) => voi.add(id));
      state.syncs.push(voi);
    }
  }
  setTool(state.tool);
  state.invert = false;
  window.xrayViewer.ready = true;
  document.body.dataset.state = "ready";
  report();
  setFrameHeight();
}

async function start() {
  await initCore();
  initTools();
  for (const tool of Object.values(TOOLS)) addTool(tool);
  // our "xray:" images are made in the page (register()): the loader hands them over
  imageLoader.registerImageLoader("xray", (id) => ({ promise: Promise.resolve(META.get(id).image) }));
  window.xrayViewer = {
    ready: false,
    state: null,
    snapshot,
    // where image pixel (x, y) of pane i is, in this frame's client coordinates (for tests and scripted use)
    point(i, x, y) {
      const pane = state.panes[i];
      const [cx, cy] = pane.overlay.toCanvas(x, y);
      const box = pane.element.getBoundingClientRect();
      return [box.left + cx, box.top + cy];
    },
  };
  eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, report);
  eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_MODIFIED, report); // the list under the image only
  eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_REMOVED, report);
  document.addEventListener("keydown", keys);
  for (const name of [Enums.Events.VOI_MODIFIED, Enums.Events.CAMERA_MODIFIED]) {
    document.addEventListener(name, () => window.xrayViewer.ready && (window.xrayViewer.state = snapshot()), true);
  }
  new ResizeObserver(() => {
    if (!state.engine) return;
    for (const pane of state.panes) {
      const fitted = Math.round(pane.element.clientWidth * (pane.height / pane.width));
      pane.element.style.height = `${Math.max(200, Math.min(state.maxHeight, fitted))}px`;
    }
    state.engine.resize(true, true);
    setFrameHeight();
  }).observe(document.getElementById("root"));
  connect((args) => render(args).catch((error) => {
    document.getElementById("root").textContent = `The viewer could not show this image: ${error.message}`;
    document.body.dataset.state = "error";
    setFrameHeight();
  }));
}

start();
