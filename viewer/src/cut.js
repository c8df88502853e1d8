// A clipping plane fixed in the model's frame: it hides the part of the model beyond it (towards the viewer,
// the head or the patient's left), so that one can look inside. three.js clips in world space, so the plane is
// carried into the world each frame as the model is moved.
import * as THREE from "three";

export const AXES = ["side to side", "head to feet", "front to back"];
const KEEP_ALL = new THREE.Plane(new THREE.Vector3(0, 0, -1), 1e6);

export class Cut {
  constructor(holder, halfSize) {
    this.holder = holder;
    this.halfSize = halfSize; // THREE.Vector3, the model's half extent
    this.enabled = false;
    this.axis = 2;
    this.position = 0; // -1 .. 1 of the half extent
    this.local = new THREE.Plane();
    this.world = KEEP_ALL.clone();
    const size = 2.2 * Math.max(halfSize.x, halfSize.y, halfSize.z);
    this.marker = new THREE.Mesh(
      new THREE.PlaneGeometry(size, size),
      new THREE.MeshBasicMaterial({ color: 0x58a6ff, transparent: true, opacity: 0.15, side: THREE.DoubleSide,
                                    depthWrite: false }),
    );
    this.marker.visible = false;
    holder.add(this.marker);
  }

  set({ enabled = this.enabled, axis = this.axis, position = this.position } = {}) {
    this.enabled = enabled;
    this.axis = axis;
    this.position = Math.min(1, Math.max(-1, position));
  }

  update() {
    const normal = new THREE.Vector3().setComponent(this.axis, -1);
    const offset = this.position * this.halfSize.getComponent(this.axis);
    this.local.set(normal, offset); // keeps the points with coordinate <= offset along the axis
    this.marker.visible = this.enabled;
    this.marker.position.set(0, 0, 0).setComponent(this.axis, offset);
    this.marker.rotation.set(this.axis === 1 ? -Math.PI / 2 : 0, this.axis === 0 ? Math.PI / 2 : 0, 0);
    this.holder.updateMatrixWorld();
    if (this.enabled) this.world.copy(this.local).applyMatrix4(this.holder.matrixWorld);
    else this.world.copy(KEEP_ALL);
  }

  keeps(worldPoint) {
    return this.world.distanceToPoint(worldPoint) >= 0;
  }
}
