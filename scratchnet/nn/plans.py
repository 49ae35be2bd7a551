"""How a Sequential runs its layers: the reference plan and the fast one. Both read what each
layer declares it can do (layers.Layer's capabilities), never what type it is."""

from __future__ import annotations

from dataclasses import dataclass

from .layers import Layer


@dataclass
class Plan:
    """`order` (forward order), `first` (backward runs order[first:] in reverse), and the flags it
    set on the layers."""

    name: str
    order: list[Layer]
    first: int


def reference_plan(layers: list[Layer]) -> Plan:
    """The plain path: layers in written order, each computing every gradient, nothing in place."""
    for layer in layers:
        layer.input_grad = True
        if layer.in_place:
            layer.inplace_forward = layer.inplace_backward = False
    return Plan("reference", list(layers), 0)


def fast_plan(layers: list[Layer]) -> Plan:
    """The same function and gradients as reference_plan, with less work:

    - pool before a monotone map: a monotone layer (ReLU) directly before a max pool runs after it.
      They commute (relu(max(x)) == max(relu(x)), gradients included), and pooling first leaves the
      map a quarter of the elements to touch, forward and backward;
    - backward stops at the first layer with parameters: nothing before it has anything to learn,
      and that layer skips its own input gradient (for an MLP behind a flatten, a third of the first
      layer's backward work);
    - in place: an in-place-capable layer overwrites its input right after a layer whose output is
      fresh (nobody else holds it), and its dy unless it is the last layer (the gradient it receives
      from the layer after it is never read again), saving an allocation and a pass each way.
    The architecture, the saved model and the ONNX export keep the written order.
    """
    plan = reference_plan(layers)
    order = plan.order
    for i in range(len(order) - 1):
        if order[i].monotone and order[i + 1].max_pool:
            order[i], order[i + 1] = order[i + 1], order[i]
    first = next((i for i, layer in enumerate(order) if layer.params), len(order))
    if first < len(order):
        order[first].input_grad = False
    for i, (before, layer) in enumerate(zip([None, *order], order)):
        if layer.in_place:
            layer.inplace_backward = i < len(order) - 1  # the last layer's dy is the caller's: not ours to overwrite
            layer.inplace_forward = before is not None and before.fresh_output
    return Plan("fast", order, first)
