"""D2G-Net (Sun et al., TPAMI 2022), written for ptx: UV generator, hybrid texture,
texture-to-screen mapping, D2G translator, learnable background, multi-scale PatchGAN,
losses, and the training step. ``D2GRenderer`` is what transfer and scoring run."""
