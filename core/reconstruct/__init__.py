"""3D from X-ray views: simulated projections of a CT, tomography, visual hulls, surfaces.

Geometry used throughout: volumes are ``data[z, y, x]`` in the patient's LAS frame (:class:`core.types.Volume`); views
rotate about the patient's long axis ``z``. At angle 0 rays travel along ``y`` (a frontal view, detector columns along
``x``); at 90° along ``x`` (a lateral view). Projections hold line integrals of the linear attenuation coefficient
(dimensionless), the quantity a radiograph's ``-log(I / I0)`` measures.
"""
