"""The method seam: what a method declares, and what the shared machinery asks of it.

A method (D2G-Net, a baseline, a one-shot system) is one :class:`Method` record in
``ptx.methods.registry.METHODS``. The record says:

- its settings: a :class:`MethodConfig` subclass (common fields below, its own after
  them; ``setting(..., fixed=True)`` marks those a resumed run cannot change) and presets;
- what it reads: the prepared per-frame arrays its trainer and renderer use, its pose
  encoding (:class:`PoseEncoding`: ONE function that turns a frame's conditions into
  network channels, used by training and by rendering alike), its frame window
  (:class:`Window`: which neighbouring frames' encodings are stacked, and whether it feeds
  back its own previous output), and the last preparation stage a transfer source needs;
- what it trains on: ``clip`` consecutive frames per training item, its loss columns, and
  the images it shows and scores during training;
- how to build its :class:`Trainer` (optimisation, state) and its :class:`Renderer`
  (inference from a checkpoint).

Frame size: every image a method sees is (H, W), never one size. A run's frame comes from
its subject's canonical frames (``ptx.cache.frame``): the long side is ``cfg.size``, the
aspect is the canonical frame's, and each side is a multiple of ``Method.divisor(cfg)``
(what the method's downsamplings need; :meth:`Method.frame` computes it, and a square
canonical frame gives exactly ``cfg.size`` x ``cfg.size``). The shared machinery resizes
every prepared array to that (H, W) before a method sees it; it hands the frame to the
trainer as ``TrainSetup.frame`` and to the renderer as ``build_renderer``'s ``frame``
argument, and records it in the run's config and every checkpoint (``frame``: [H, W]), so
a renderer needs nothing else. Runs from before rectangular frames have no ``frame`` and
are square (``cfg.size``). Tensors below are written (n, C, H, W).

For a method's author: declare ``divisor`` when the networks downsample (D2G-Net:
``2 ** max(uv_down, tr_down)``); build any parameter that has a size (D2G-Net's learned
backgrounds, (V, 3, H, W)) from ``TrainSetup.shape`` in the trainer and from ``frame`` in
``build_renderer``; never assume H == W anywhere else (keypoints are in pixels of the
(H, W) frame, x then y).

Everything else (the training loop, checkpoints, exact resume, logs, DDP, evaluation, the
streaming renderer with context and carried state, score, transfer) is shared and knows no
method by name. Nothing here imports torch at module level, so listing methods is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ptx.config import build_config, config_from_dict, fixed_fields, setting
from ptx.errors import InputError

if TYPE_CHECKING:
    import torch

    from ptx.nn.poselabels import PoseEncoding

PERSON = "person"
"""Trained on one subject's videos; renders that person."""
ONE_SHOT = "one-shot"
"""Trained on many people; animates a person seen in one image."""


@dataclass
class MethodConfig:
    """Settings every method has. A method's config subclasses this and may redeclare a
    field to change its default."""

    # --- data ---------------------------------------------------------------------------
    size: int = setting(64, fixed=True)
    """Long side of the training frame in pixels; the short side follows the subject's
    canonical aspect (rounded to a multiple of the method's divisor). The prepared arrays
    are resized to that frame."""
    holdout: float = setting(0.1, fixed=True)
    """Fraction at the end of each video held out (never trained on; `ptx score` uses it)."""
    data_device: str = "auto"
    """Where the dataset lives: auto (the GPU when it fits, else host memory), cpu, cuda."""
    # --- optimisation -------------------------------------------------------------------
    batch: int = setting(2, fixed=True)
    """Training items per step (each item is the method's clip of consecutive frames)."""
    steps: int = 1200
    """Training steps (after any warm-up phase the method adds)."""
    lr: float = 2e-4
    """Adam learning rate."""
    beta1: float = 0.5
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    lr_decay_start: float = 0.5
    """Fraction of the steps after which the learning rate decays linearly to zero."""
    seed: int = setting(0, fixed=True)
    """Seed of initialisation and batch order."""
    # --- devices ------------------------------------------------------------------------
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N."""
    amp: bool = True
    """bf16 autocast on CUDA (ignored on the CPU)."""
    channels_last: bool = True
    """channels_last memory format (on 2 CPU cores it made convolutions ~5x faster)."""
    compile: bool = False
    """torch.compile the networks (CUDA only; measured no gain on the CPU)."""
    deterministic: bool = False
    """Ask torch for deterministic kernels."""
    threads: int = 0
    """CPU threads for torch (0: ``PTX_THREADS``, else the cores free when training starts;
    ``ptx.devices.cpu_threads``). The count used is saved with the run and a resume keeps it
    (results depend on it in their last bits); set it for runs that must match each other."""
    # --- logging ------------------------------------------------------------------------
    log_every: int = 10
    """Steps between rows of the CSV log and TensorBoard scalars."""
    eval_every: int = 250
    """Steps between held-out PSNR evaluations (0: only at the start and the end)."""
    sample_every: int = 250
    """Steps between sample images (0: only at the start and the end)."""
    checkpoint_every: int = 500
    """Steps between checkpoints (one is always written at the end)."""
    keep_checkpoints: int = 3
    """Step checkpoints kept (the newest ones)."""
    eval_frames: int = 8
    """Held-out frames used by the periodic evaluation (evenly spaced)."""
    tensorboard: bool = True
    """Write TensorBoard scalars and images."""


def check_common(cfg: MethodConfig) -> None:
    """Raise InputError for common settings that cannot work (before anything starts)."""
    from ptx.devices import resolve_device

    if not 0.0 <= cfg.holdout < 1.0:
        raise InputError(f"holdout={cfg.holdout} must be in [0, 1).")
    if cfg.size < 8:
        raise InputError(f"size={cfg.size} is too small.", "Use 8 pixels or more.")
    if cfg.batch < 1 or cfg.steps < 0:
        raise InputError("batch must be at least 1 and steps at least 0.")
    if cfg.lr <= 0 or not 0.0 <= cfg.lr_decay_start <= 1.0:
        raise InputError("lr must be positive and lr_decay_start in [0, 1].")
    for name in ("log_every", "checkpoint_every", "keep_checkpoints", "eval_frames"):
        if getattr(cfg, name) < 1:
            raise InputError(f"{name}={getattr(cfg, name)} must be at least 1.")
    for name in ("eval_every", "sample_every", "threads"):
        if getattr(cfg, name) < 0:
            raise InputError(f"{name}={getattr(cfg, name)} must be 0 or more.")
    if cfg.data_device not in ("auto", "cpu", "cuda"):
        raise InputError(f"data_device={cfg.data_device!r} is unknown.", "Use auto, cpu or cuda.")
    resolve_device(cfg.device)


@dataclass(frozen=True)
class Window:
    """The frames a method sees for output frame t."""

    offsets: tuple[int, ...] = (0,)
    """Frames (relative to t) whose pose encodings are stacked, in channel order; at a
    sequence's ends the nearest existing frame repeats."""
    feedback: bool = False
    """The method also sees its own previous output: frames render in order, and the
    carried state crosses chunk boundaries."""

    @property
    def before(self) -> int:
        """Frames before t the window reaches."""
        return max(0, -min(self.offsets))

    @property
    def after(self) -> int:
        """Frames after t the window reaches (the renderer's lookahead)."""
        return max(0, max(self.offsets))


@dataclass
class TrainSetup:
    """What building a method's trainer gets."""

    cfg: Any
    device: torch.device
    n_videos: int
    """Training videos (one learned background each, for methods that learn one)."""
    vgg: Any = None
    """The VGG-19 perceptual loss when its weights are present (and the method uses it)."""
    ddp: bool = False
    """Wrap the networks in DistributedDataParallel."""
    workspace: Any = None
    """The workspace (for methods that look for pretrained parts in it)."""
    resume: bool = False
    """The trainer's state is about to be loaded from a checkpoint."""
    frame: tuple[int, int] | None = None
    """The run's frame (H, W) (:meth:`Method.frame` of the subject's canonical frame):
    every image of every batch has this size. None: square, ``cfg.size`` (for trainers
    built by hand); read it through :attr:`shape`."""

    @property
    def shape(self) -> tuple[int, int]:
        """The run's frame (H, W)."""
        return self.frame or (int(self.cfg.size), int(self.cfg.size))


class Trainer(Protocol):
    """A method's optimisation: networks, optimisers, schedules and one training step.

    A run is a function of its seed, its data order and its step: a trainer draws no
    random numbers outside torch's global generator (saved in checkpoints) after it is
    built, which is what makes ``--resume`` exact."""

    notes: list[str]
    """Things to tell the user about how training starts (pretrained parts, fallbacks)."""

    @property
    def total_steps(self) -> int: ...

    def phase(self, step: int) -> str:
        """The phase name at global step ``step`` (shown in the log)."""
        ...

    def lr(self) -> float:
        """The current learning rate (of the main optimiser)."""
        ...

    def init_from_data(self, data: Any) -> None:
        """Initialise from the training data (a new run only, not on resume)."""
        ...

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        """One optimisation step; returns the losses (keys among the method's columns)."""
        ...

    def eval_images(self, batch: Any) -> dict[str, torch.Tensor]:
        """Images of single frames (a clip-1 batch), float (n, 3, H, W) in [-1, 1]; the
        first is the output. Shown in sample sheets; those in ``Method.scored`` get PSNR."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class RenderInputs:
    """One batch of frames to render (n frames at the model's frame (H, W), on its device)."""

    pose: torch.Tensor
    """float (n, C, H, W): the stacked window of pose encodings."""
    arrays: dict[str, torch.Tensor]
    """The method's other per-frame inputs (``Method.render_arrays``), uint8 (n, C, H, W)."""
    video: torch.Tensor
    """int64 (n,): the training video whose learned background to use."""
    background: torch.Tensor | None = None
    """float (1, 3, H, W) in [-1, 1]: composite over this instead of a learned background."""


@dataclass
class RenderOutput:
    """What a renderer returns for a batch; float (n, C, H, W) in [-1, 1] (alpha in [0, 1])."""

    output: torch.Tensor
    """The composite over the background."""
    fg: torch.Tensor
    """The person's colours (for output with alpha)."""
    alpha: torch.Tensor
    """(n, 1, H, W): the person's opacity."""


class Renderer(Protocol):
    """A trained model ready for inference (built from a checkpoint, in eval mode)."""

    def start(self) -> Any:
        """The carried state before the first frame (None for methods without feedback)."""
        ...

    def __call__(self, inputs: RenderInputs, state: Any) -> tuple[RenderOutput, Any]:
        """Render a batch of consecutive frames; returns the images and the state to
        carry into the next batch."""
        ...


def _no_check(cfg: Any) -> None:
    return None


@dataclass(frozen=True)
class Method:
    """One method, as the registry lists it (see the module docstring)."""

    name: str
    kind: str
    """``person`` or ``one-shot``."""
    paper: str
    """Its paper, short."""
    summary: str
    """One line on what it is."""
    config: type
    """Its MethodConfig subclass."""
    presets: Mapping[str, Mapping[str, Any]]
    """Preset name -> changes from the config's defaults."""
    encoding: Callable[[Any, tuple[int, int]], PoseEncoding]
    """(cfg, the run's frame (H, W)) -> its pose encoding (an encoding that draws, such as
    a bone stack, draws at that size; one that stacks prepared images ignores it)."""
    window: Callable[[Any], Window]
    """cfg -> its frame window."""
    build_trainer: Callable[[TrainSetup], Trainer]
    build_renderer: Callable[[Any, dict[str, Any], torch.device, tuple[int, int]], Renderer]
    """(cfg, the trainer's saved state, device, the run's frame (H, W)) -> an eval-mode
    renderer."""
    losses: tuple[str, ...]
    """Loss columns of its log (the trainer's step values); g_total first by convention."""
    train_arrays: Callable[[Any], tuple[str, ...]] = lambda cfg: ()
    """cfg -> per-frame prepared arrays the trainer reads besides the frames and the
    encoding's inputs (e.g. ``iuv``, ``mask``); ``flow`` means flow + flow_valid when
    present (optional), ``background`` the per-video background image."""
    render_arrays: Callable[[Any], tuple[str, ...]] = lambda cfg: ()
    """cfg -> per-frame prepared arrays the renderer reads besides the encoding's inputs."""
    clip: int = 1
    """Consecutive frames per training item (2: pairs (t-1, t))."""
    scored: tuple[str, ...] = ("output",)
    """Eval images whose PSNR is logged (``output`` as ``psnr``, others as ``psnr_<name>``)."""
    source_until: str = "poselabel"
    """The last preparation stage a transfer source needs."""
    retarget: str = "3d"
    """The motion retargeting ``ptx transfer`` uses unless told: ``3d``, ``2d``, ``none``."""
    perceptual_fallback: str | None = None
    """What replaces the VGG-19 loss when its weights are absent; None: no VGG loss."""
    check: Callable[[Any], None] = _no_check
    """Raise InputError for settings that cannot work together (method-specific)."""
    divisor: Callable[[Any], int] = lambda cfg: 1
    """cfg -> what both sides of its frame must be multiples of (2 ** the number of
    stride-2 downsamplings of its networks); ``cfg.size`` must be one too."""
    pretrain: Callable[[Any, Any], Any] | None = None
    """(cfg, device) -> a pretrainer of a person-agnostic part trained on many subjects
    (``ptx train --pretrain``), or None when the method has none."""
    saved_before: Mapping[str, Any] = field(default_factory=dict)
    """Settings added after runs were saved without them, with the value those runs used
    where today's default differs (e.g. ``norm: instance`` once ``none`` became the
    default): a saved config that lacks the key reads as that value."""

    # --- settings -----------------------------------------------------------------------
    def resolve_config(self, preset: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The preset's config with ``overrides`` ({field: value}; strings converted)."""
        if preset not in self.presets:
            raise InputError(
                f"No preset named {preset!r} for method {self.name}.",
                f"Presets: {', '.join(self.presets)}.",
            )
        cfg = build_config(self.config, {**self.presets[preset], **(overrides or {})}, "train")
        self.validate(cfg)
        return cfg

    def validate(self, cfg: Any) -> None:
        check_common(cfg)
        self.check(cfg)

    def config_from_dict(self, values: Mapping[str, Any]) -> Any:
        """A saved config (keys from other ptx versions are ignored; keys it lacks that
        :attr:`saved_before` names take the value runs used before the key existed)."""
        return config_from_dict(self.config, {**self.saved_before, **values})

    @property
    def fixed(self) -> tuple[str, ...]:
        """Fields a resumed run cannot change."""
        return fixed_fields(self.config)

    def frame(self, cfg: Any, canonical: tuple[int, int]) -> tuple[int, int]:
        """The (H, W) a run with settings ``cfg`` trains and renders at, for a subject whose
        canonical frames are ``canonical`` (H, W): ``cfg.size`` on the long side, the
        canonical aspect, each side a multiple of :attr:`divisor` (see the module
        docstring)."""
        from ptx.cache.frame import frame_shape

        return frame_shape(canonical, int(cfg.size), max(1, int(self.divisor(cfg))))

    def columns(self) -> tuple[str, ...]:
        """The log's columns: step, phase, lr, rate, the losses, the PSNRs."""
        psnr = tuple("psnr" if k == "output" else f"psnr_{k}" for k in self.scored)
        return ("step", "phase", "lr", "steps_per_s", *self.losses, *psnr)
