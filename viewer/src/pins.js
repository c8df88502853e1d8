// Annotation pins: a sphere and a label in the model's frame (they move and scale with it), and the list on
// the page. Labels are put into the page with textContent only.
import * as THREE from "three";
import { labelSprite } from "./text.js";

export class Pins {
  constructor({ holder, list, api, size, onChange, say, patientFrame = true }) {
    this.patientFrame = patientFrame;
    Object.assign(this, { holder, list, api, size, onChange, say });
    this.items = new Map();
    this.sphere = new THREE.SphereGeometry(size, 16, 12);
    this.material = new THREE.MeshStandardMaterial({ color: 0x2f81f7, emissive: 0x0b3d91, roughness: 0.4 });
  }

  sprite(text) {
    const label = labelSprite(text, this.size * 5);
    label.position.y = this.size * 2;
    label.center.set(0.5, 0);
    return label;
  }

  show(annotation) {
    const group = new THREE.Group();
    group.position.fromArray(annotation.position);
    group.add(new THREE.Mesh(this.sphere, this.material), this.sprite(annotation.label));
    group.name = `pin-${annotation.id}`;
    this.holder.add(group);

    const item = document.createElement("li");
    item.dataset.pin = annotation.id;
    const text = document.createElement("span");
    text.className = "label";
    text.textContent = annotation.label;
    const where = document.createElement("div");
    where.className = "where";
    where.textContent = whereIs(annotation.position, this.patientFrame);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", "Delete this pin");
    remove.addEventListener("click", () => this.remove(annotation.id));
    const rename = document.createElement("button");
    rename.type = "button";
    rename.textContent = "Rename";
    rename.setAttribute("aria-label", "Rename this pin");
    rename.addEventListener("click", () => this.edit(annotation.id));
    item.append(text, rename, remove, where);
    this.list.append(item);
    this.items.set(annotation.id, { group, item });
    window.xrViewer.pins = this.items.size;
    this.onChange();
  }

  async add(position, label) {
    const text = label.trim();
    if (!text) throw new Error("Type a label for the pin first.");
    const annotation = await this.api.add(position.toArray(), text);
    this.show(annotation);
    return annotation;
  }

  async load() {
    for (const annotation of await this.api.list()) this.show(annotation);
  }

  // The label becomes a text field; Enter (or leaving the field) saves, Escape cancels.
  edit(id) {
    const { item } = this.items.get(id);
    const text = item.querySelector(".label");
    if (item.querySelector("input")) return;
    const field = document.createElement("input");
    field.type = "text";
    field.maxLength = 200;
    field.value = text.textContent;
    field.setAttribute("aria-label", "New label");
    text.replaceWith(field);
    field.focus();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const label = field.value.trim();
      field.replaceWith(text);
      if (!save || !label || label === text.textContent) return;
      try {
        const annotation = await this.api.rename(id, label);
        this.relabel(id, annotation.label);
        this.say(`Pin renamed "${annotation.label}".`);
      } catch (error) {
        this.say(`The pin was not renamed: ${error.message}`, true);
      }
    };
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") finish(false);
    });
    field.addEventListener("blur", () => finish(true));
  }

  relabel(id, label) {
    const { group, item } = this.items.get(id);
    const old = group.children[1];
    group.remove(old);
    old.material.map.dispose();
    group.add(this.sprite(label));
    item.querySelector(".label").textContent = label;
    this.onChange();
  }

  async remove(id) {
    try {
      await this.api.remove(id);
    } catch (error) {
      this.say(`The pin could not be deleted: ${error.message}`, true);
      return;
    }
    const { group, item } = this.items.get(id);
    this.holder.remove(group);
    group.children[1].material.map.dispose();
    item.remove();
    this.items.delete(id);
    window.xrViewer.pins = this.items.size;
    this.onChange();
  }
}

// A pin's position in millimetres from the centre of the model's bounding box (the scene is in metres): in the
// patient's directions for a reconstruction (the viewer's X is the patient's left, Y superior, Z anterior), in the
// image's for an intensity relief (X across, Y up the image, Z the relief's height).
export function whereIs([x, y, z], patientFrame = true) {
  const part = (value, plus, minus) => `${Math.abs(value * 1000).toFixed(0)} mm ${value >= 0 ? plus : minus}`;
  if (!patientFrame) {
    return `${part(x, "right", "left")} · ${part(y, "up", "down")} · ${part(z, "higher", "lower")} of the relief's centre`;
  }
  return `${part(x, "L", "R")} · ${part(y, "S", "I")} · ${part(z, "A", "P")} of the model's centre`;
}
