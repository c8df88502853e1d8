// The heat map and the lung outline drawn over a cornerstone viewport on a canvas of their own, placed through the
// viewport's own image-to-screen mapping on every render, so they follow zoom and pan exactly.
import { Enums, utilities } from "@cornerstonejs/core";
import { decodeBytes } from "./pixels.js";

export class Overlay {
  constructor(element, viewport, imageId, pane, args) {
    this.element = element;
    this.viewport = viewport;
    this.imageId = imageId;
    this.pane = pane;
    this.opacity = args.opacity ?? 0.6;
    this.show = { heat: !!pane.heat, outline: !!(args.outline && pane.outline) };
    this.canvas = document.createElement("canvas");
    this.canvas.className = "overlay";
    element.append(this.canvas);
    this.ready = this.prepare(args.lut).then(() => this.draw());
    element.addEventListener(Enums.Events.IMAGE_RENDERED, () => this.draw());
  }

  async prepare(lut) {
    const heat = this.pane.heat;
    if (!heat) return;
    const values = await decodeBytes(heat.data, heat.width * heat.height);
    const image = new ImageData(heat.width, heat.height);
    for (let i = 0; i < values.length; i++) {
      const [r, g, b, a] = lut[values[i]]; // colour and opacity of the colour scale (low values transparent)
      image.data.set([r, g, b, a], i * 4);
    }
    this.heat = document.createElement("canvas");
    this.heat.width = heat.width;
    this.heat.height = heat.height;
    this.heat.getContext("2d").putImageData(image, 0, 0);
  }

  set(layer, on) {
    this.show[layer] = on;
    this.draw();
  }

  setOpacity(value) {
    this.opacity = value;
    this.draw();
  }

  // image pixel (column, row) → canvas (CSS px)
  toCanvas(x, y) {
    return this.viewport.worldToCanvas(utilities.imageToWorldCoords(this.imageId, [x, y]));
  }

  draw() {
    const { clientWidth: w, clientHeight: h } = this.element;
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * ratio) || this.canvas.height !== Math.round(h * ratio)) {
      this.canvas.width = Math.round(w * ratio);
      this.canvas.height = Math.round(h * ratio);
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const { width, height } = this.pane;
    const o = this.toCanvas(0, 0);
    const ex = this.toCanvas(width, 0);
    const ey = this.toCanvas(0, height);
    if (this.show.heat && this.heat) {
      // the whole heat map onto the whole image, whatever its own size: an affine map from heat pixels to screen
      const sx = this.heat.width, sy = this.heat.height;
      ctx.setTransform(ratio * (ex[0] - o[0]) / sx, ratio * (ex[1] - o[1]) / sx, ratio * (ey[0] - o[0]) / sy,
        ratio * (ey[1] - o[1]) / sy, ratio * o[0], ratio * o[1]);
      ctx.globalAlpha = this.opacity;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.heat, 0, 0);
      ctx.globalAlpha = 1;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
    }
    if (this.show.outline && this.pane.outline) {
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.lineWidth = 2;
      ctx.shadowColor = "rgba(0,0,0,0.8)";
      ctx.shadowBlur = 2;
      for (const { colour, rings } of this.pane.outline) {
        ctx.strokeStyle = colour;
        for (const ring of rings) {
          ctx.beginPath();
          ring.forEach(([x, y], i) => {
            const [cx, cy] = this.toCanvas(x, y);
            if (i === 0) ctx.moveTo(cx, cy);
            else ctx.lineTo(cx, cy);
          });
          ctx.closePath();
          ctx.stroke();
        }
      }
      ctx.shadowBlur = 0;
    }
  }
}
