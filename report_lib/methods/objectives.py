"""What feature visualization maximizes: class logits, dense units and conv
channels, composable by sum and weight.

An objective is a weighted sum of *terms*; each term is the mean activation of
one channel (conv layers; Lucid's *channel* objective), the activation of the
unit at the centre of one channel's map (Lucid's *neuron* objective), or the
value of one unit (dense layers). Objectives add and scale like numbers::

    objective = channel("block4_conv1", 7) + 0.5 * channel("block4_conv1", 9)

A list of objectives is optimized as one batch, one image per objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from report_lib.models.bundle import LOGITS, ModelBundle


#: How a term reads a conv layer's map: its spatial mean, or the unit at its centre.
READOUTS = ("mean", "centre")


@dataclass(frozen=True)
class Term:
    """Channel ``index`` of ``layer``, read as ``readout`` (``"mean"`` of the map
    or its ``"centre"`` unit), times ``weight``."""

    layer: str
    index: int
    weight: float = 1.0
    readout: str = "mean"


@dataclass(frozen=True)
class Objective:
    """A weighted sum of channel and unit activations, to be maximized."""

    terms: tuple[Term, ...]
    label: str

    def __add__(self, other: "Objective") -> "Objective":
        return Objective(self.terms + other.terms, f"{self.label} + {other.label}")

    def __mul__(self, factor: float) -> "Objective":
        scaled = tuple(Term(t.layer, t.index, t.weight * float(factor), t.readout) for t in self.terms)
        return Objective(scaled, f"{factor:g} * ({self.label})")

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-other)

    @property
    def layers(self) -> list[str]:
        """Layers the objective reads, in first-use order."""
        return list(dict.fromkeys(t.layer for t in self.terms))


def channel(layer: str, index: int) -> Objective:
    """Mean activation of one channel of a conv layer (or one unit of a dense layer)."""
    return Objective((Term(layer, int(index)),), f"{layer}:{index}")


def neuron(layer: str, index: int) -> Objective:
    """The activation of one channel at the centre of a conv layer's map
    (Lucid's *neuron* objective): one unit, so one receptive field. For a
    first layer its optimum is the kernel's own pattern, where the channel
    mean of a linear filter only sees the image's mean colour."""
    return Objective((Term(layer, int(index), readout="centre"),), f"{layer}:{index} (centre)")


def class_logit(class_id: int) -> Objective:
    """The classifier's score for a class, before the softmax (tf-keras-vis'
    ``ReplaceToLinear`` + ``CategoricalScore``)."""
    return Objective((Term(LOGITS, int(class_id)),), f"class {class_id}")


def layer_widths(bundle: ModelBundle, layers: Sequence[str]) -> dict[str, int]:
    """Number of channels/units of each layer, with clear errors.

    Args:
        bundle: The model.
        layers: Layer names (``LOGITS`` for the classifier).

    Returns:
        Layer name -> width.

    Raises:
        ValueError: A layer does not exist (the message lists the valid ones)
            or has no channel axis.
    """
    widths = {}
    for name in layers:
        layer = bundle.model.layers[-1] if name == LOGITS else bundle.layer(name)
        shape = layer.output.shape
        if len(shape) not in (2, 4):
            raise ValueError(f"layer {name!r} has output shape {shape}; objectives need a dense or conv layer")
        widths[name] = int(shape[-1])
    return widths


def weight_matrices(bundle: ModelBundle, objectives: Sequence[Objective]) -> dict[tuple[str, str], np.ndarray]:
    """Turn a batch of objectives into one ``(batch, width)`` weight matrix per
    layer and readout.

    Image ``b`` of the batch maximizes ``sum_c W[(layer, "mean")][b, c] * mean(act[layer][b, ..., c])``
    plus the same sum over the centre units for ``(layer, "centre")``.

    Args:
        bundle: The model.
        objectives: One objective per image.

    Returns:
        ``(layer name, readout)`` -> weight matrix.

    Raises:
        ValueError: Unknown layer, or a channel index out of range (the
            message gives the valid range).
    """
    if not objectives:
        raise ValueError("no objectives given")
    keys = list(dict.fromkeys((term.layer, term.readout) for objective in objectives for term in objective.terms))
    widths = layer_widths(bundle, list(dict.fromkeys(layer for layer, _ in keys)))
    for layer, readout in keys:
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose one of {READOUTS}")
        if readout == "centre" and (layer == LOGITS or len(bundle.layer(layer).output.shape) != 4):
            raise ValueError(f"the neuron (centre) objective needs a conv layer; {layer!r} has no spatial map")
    matrices = {key: np.zeros((len(objectives), widths[key[0]]), np.float32) for key in keys}
    for row, objective in enumerate(objectives):
        for term in objective.terms:
            if not 0 <= term.index < widths[term.layer]:
                raise ValueError(
                    f"{term.layer!r} has {widths[term.layer]} channels/units (0 to {widths[term.layer] - 1}); "
                    f"got index {term.index}"
                )
            matrices[(term.layer, term.readout)][row, term.index] += term.weight
    return matrices


def units_feeding_class(bundle: ModelBundle, layer: str, class_id: int, count: int) -> list[int]:
    """The units of a hidden dense layer that push a class logit up the most.

    Multiplies the kernels of the dense layers between ``layer`` and the
    classifier (biases and ReLUs left out: a first-order estimate) and ranks
    the units by their weight on the class logit.

    Args:
        bundle: The model.
        layer: A dense layer before the classifier (e.g. VGG16's ``fc2``).
        class_id: The class.
        count: How many units.

    Returns:
        Unit indices, strongest first.
    """
    dense = bundle.dense_layers
    if layer not in dense[:-1]:
        raise ValueError(f"{layer!r} is not a hidden dense layer; hidden dense layers: {list(dense[:-1])}")
    effective = bundle.layer(dense[-1]).get_weights()[0][:, class_id]
    for name in reversed(dense[dense.index(layer) + 1 : -1]):
        effective = bundle.layer(name).get_weights()[0] @ effective
    return [int(i) for i in np.argsort(-effective, kind="stable")[:count]]
