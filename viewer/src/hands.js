// The headset's controllers (WebXR input sources through three.js):
//   squeeze         grab the model: it follows the hand, moving and turning with it; both hands: scale it
//   trigger         drop a pin where the laser points (on the visible part of the model)
//   right stick     up/down: scale; left/right: choose the next pin's label
//   left stick      up/down: move the cut;  X: cut on/off;  Y: the cut's direction
// Controller models are not fetched (no network at run time): each hand is a small sphere with a laser.
import * as THREE from "three";
import { AXES } from "./cut.js";
import { textTexture } from "./text.js";

const MIN_SCALE = 0.1;
const MAX_SCALE = 10;

function buttonEdge(state, key, pressed) {
  const edge = pressed && !state[key];
  state[key] = pressed;
  return edge;
}

export class Hands {
  constructor({ renderer, scene, holder, targets, cut, labels, dropPin, changed }) {
    Object.assign(this, { renderer, scene, holder, targets, cut, labels, dropPin, changed });
    this.labelIndex = 0;
    this.grabbing = new Set();
    this.raycaster = new THREE.Raycaster();
    this.controllers = [0, 1].map((i) => this.makeController(i));
    this.panel = new THREE.Mesh(new THREE.PlaneGeometry(0.16, 0.06), new THREE.MeshBasicMaterial({ transparent: true }));
    this.panel.position.set(0, 0.06, -0.05);
    this.panel.rotation.x = -0.6;
    this.refreshPanel();
  }

  makeController(index) {
    const controller = this.renderer.xr.getController(index);
    const ray = new THREE.Line(
      new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(0, 0, 0), new THREE.Vector3(0, 0, -1)]),
      new THREE.LineBasicMaterial({ color: 0x58a6ff }),
    );
    ray.scale.z = 2;
    const hand = new THREE.Mesh(new THREE.SphereGeometry(0.015, 12, 8), new THREE.MeshStandardMaterial({ color: 0xdddddd }));
    const reticle = new THREE.Mesh(new THREE.SphereGeometry(0.004, 12, 8), new THREE.MeshBasicMaterial({ color: 0xffd33d }));
    reticle.visible = false;
    this.scene.add(reticle);
    controller.add(ray, hand);
    controller.userData = { ray, reticle, hit: null, buttons: {}, stickX: 0 };
    controller.addEventListener("connected", (event) => {
      controller.userData.source = event.data;
      if (event.data.handedness === "left") controller.add(this.panel);
    });
    controller.addEventListener("disconnected", () => {
      controller.userData.source = null;
      this.release(controller);
    });
    controller.addEventListener("select", () => {
      const { hit } = controller.userData;
      if (hit && !this.grabbing.has(controller)) this.dropPin(this.holder.worldToLocal(hit.clone()), this.label());
    });
    controller.addEventListener("squeezestart", () => this.grab(controller));
    controller.addEventListener("squeezeend", () => this.release(controller));
    this.scene.add(controller);
    return controller;
  }

  label() {
    const labels = this.labels();
    return labels[this.labelIndex % labels.length];
  }

  refreshPanel() {
    const cut = this.cut.enabled ? `Cut: ${AXES[this.cut.axis]}` : "Cut: off (X)";
    const { texture } = textTexture([`Pin: ${this.label()}`, cut], { width: 512, lineHeight: 80 });
    this.panel.material.map?.dispose();
    this.panel.material.map = texture;
    this.panel.material.needsUpdate = true;
  }

  grab(controller) {
    this.grabbing.add(controller);
    if (this.grabbing.size === 1) {
      controller.attach(this.holder);
    } else {
      const [a, b] = this.grabbing;
      this.twoHands = { distance: a.position.distanceTo(b.position), scale: this.holder.scale.x };
    }
  }

  release(controller) {
    if (!this.grabbing.delete(controller)) return;
    this.twoHands = null;
    this.scene.attach(this.holder);
    const [other] = this.grabbing;
    if (other) other.attach(this.holder);
  }

  setScale(scale) {
    this.holder.scale.setScalar(Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale)));
  }

  update(seconds) {
    if (this.twoHands) {
      const [a, b] = this.grabbing;
      this.setScale((this.twoHands.scale * a.position.distanceTo(b.position)) / Math.max(this.twoHands.distance, 1e-3));
    }
    for (const controller of this.controllers) {
      const data = controller.userData;
      if (!data.source) continue;
      this.point(controller);
      const gamepad = data.source.gamepad;
      if (!gamepad) continue;
      const [x = 0, y = 0] = gamepad.axes.slice(2, 4);
      const pressed = (i) => Boolean(gamepad.buttons[i] && gamepad.buttons[i].pressed);
      if (data.source.handedness === "right") {
        if (Math.abs(y) > 0.2) this.setScale(this.holder.scale.x * Math.exp(-y * seconds * 1.5));
        const side = Math.abs(x) > 0.7 ? Math.sign(x) : 0;
        if (side && !data.stickX) {
          const count = this.labels().length;
          this.labelIndex = (this.labelIndex + side + count) % count;
          this.refreshPanel();
        }
        data.stickX = side;
      } else {
        if (Math.abs(y) > 0.2 && this.cut.enabled) this.cut.set({ position: this.cut.position - y * seconds * 0.6 });
        let changedCut = false;
        if (buttonEdge(data.buttons, "x", pressed(4))) {
          this.cut.set({ enabled: !this.cut.enabled });
          changedCut = true;
        }
        if (buttonEdge(data.buttons, "y", pressed(5))) {
          this.cut.set({ axis: (this.cut.axis + 2) % 3 });
          changedCut = true;
        }
        if (changedCut) {
          this.refreshPanel();
          this.changed();
        }
      }
    }
  }

  // The laser: the first point of the model it meets that the cut leaves visible.
  point(controller) {
    const data = controller.userData;
    this.raycaster.setFromXRController(controller);
    const hit = this.raycaster.intersectObjects(this.targets, false).find((h) => this.cut.keeps(h.point));
    data.hit = hit ? hit.point : null;
    data.ray.scale.z = hit ? hit.distance : 2;
    data.reticle.visible = Boolean(hit);
    if (hit) data.reticle.position.copy(hit.point);
  }
}
