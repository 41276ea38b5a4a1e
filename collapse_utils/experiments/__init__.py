"""Each torch chapter's experiment as a package function of a small, hashable job (what a notebook and the command
line both call): :mod:`~collapse_utils.experiments.vae_mnist`, :mod:`~collapse_utils.experiments.language_models`,
:mod:`~collapse_utils.experiments.diffusion_conformers`."""
