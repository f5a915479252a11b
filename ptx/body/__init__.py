"""Body models, fitting and rendering.

- ``model``: the body model interface (:class:`~ptx.body.model.BodyModel`) and batched,
  differentiable linear blend skinning (:class:`~ptx.body.model.TorchBody`);
- ``open_model`` (built from ``tubes``): the open model that ships with ptx; ``smpl`` and
  ``smpl_file``: SMPL from the user's own file; ``load``: choose one by name;
- ``parts``: SMPL's joints and DensePose's parts; ``skeleton``: BODY_25 limb drawing;
- ``fit`` (with ``priors``, ``silhouette``): fitting to keypoints and masks;
- ``raster`` and ``render``: IUV and 3D labels of a posed body; ``densepose``: importing
  DensePose IUV images;
- ``synth`` (with ``motion``, ``appearance``): the synthetic subject with ground truth.
"""
