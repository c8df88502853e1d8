// Text drawn into a canvas, as a texture: labels in the 3D scene and the headset's status panel. Canvas text
// is pixels, never markup, so a label cannot inject anything.
import * as THREE from "three";

export function textTexture(lines, { width = 512, lineHeight = 56, background = "rgba(20, 20, 20, 0.85)" } = {}) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = lineHeight * lines.length + 16;
  const context = canvas.getContext("2d");
  context.fillStyle = background;
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = "#ffffff";
  context.font = `${Math.round(lineHeight * 0.7)}px system-ui, sans-serif`;
  context.textBaseline = "middle";
  lines.forEach((line, i) => {
    let text = String(line);
    while (text.length > 1 && context.measureText(text).width > width - 24) text = `${text.slice(0, -2)}…`;
    context.fillText(text, 12, 8 + lineHeight * (i + 0.5));
  });
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  return { texture, aspect: canvas.width / canvas.height };
}

// A label that always faces the viewer and is drawn over the model; `height` in the parent's units.
export function labelSprite(text, height, options = {}) {
  const { texture, aspect } = textTexture([text], options);
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: texture, depthTest: false, transparent: true }));
  sprite.scale.set(height * aspect, height, 1);
  sprite.renderOrder = 10;
  return sprite;
}
