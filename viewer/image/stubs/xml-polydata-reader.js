// cornerstone3D imports vtk.js's XML mesh reader for surface meshes, which the image viewer never loads; the reader
// pulls an XML library that needs Node's own modules. This stands in for it in the image viewer's bundle.
export default {
  newInstance() {
    throw new Error("The image viewer does not read VTK XML meshes.");
  },
};
