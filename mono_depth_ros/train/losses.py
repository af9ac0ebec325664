# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Training losses: depth (SI-log, log-L1), segmentation (cross-entropy) and distillation.

Predictions usually come at 1/4 of the input resolution while the ground truth is full size; every
loss upsamples the prediction bilinearly to the target's size first, as BTS and AdaBins do.
Invalid ground-truth depth is NaN, zero or negative and is masked out.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
SILOG_LAMBDA = 0.85
SILOG_SCALE = 10.0
_TINY = 1e-6


def _as_4d(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.unsqueeze(1) if tensor.dim() == 3 else tensor


def resize_to(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Resize ``pred`` ``(B, C, h, w)`` bilinearly to the spatial size of ``target``."""
    size = tuple(target.shape[-2:])
    if tuple(pred.shape[-2:]) == size:
        return pred
    return F.interpolate(pred, size=size, mode='bilinear', align_corners=False)


def valid_depth_mask(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Return where ``target`` holds a usable depth (finite and positive), and ``mask`` allows."""
    valid = torch.isfinite(target) & (target > 0)
    return valid if mask is None else valid & _as_4d(mask).bool()


def _log_difference(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None,
                    log_input: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return ``log(pred) - log(target)`` at the valid pixels and the validity mask.

    With ``log_input`` the prediction already is log-depth (upsampled in the log domain).
    """
    target = _as_4d(target)
    pred = resize_to(_as_4d(pred), target)
    valid = valid_depth_mask(target, mask)
    safe_target = torch.where(valid, target, torch.ones_like(target))
    log_pred = pred if log_input else torch.log(pred.clamp_min(_TINY))
    diff = log_pred - torch.log(safe_target)
    return diff[valid], valid


def silog_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
               variance_focus: float = SILOG_LAMBDA, scale: float = SILOG_SCALE,
               log_input: bool = False) -> torch.Tensor:
    """
    Scale-invariant log loss of Eigen et al. (2014) in the form BTS and AdaBins train with.

    ``scale * sqrt(mean(d^2) - variance_focus * mean(d)^2)`` with ``d = log(pred) - log(target)``
    over all valid pixels of the batch. ``variance_focus = 1`` is fully scale-invariant; 0.85 keeps
    15% of the scale error, so the network still learns metric depth. With ``log_input``, ``pred``
    is log-depth.
    """
    d, _ = _log_difference(pred, target, mask, log_input)
    if d.numel() == 0:
        return pred.sum() * 0
    value = (d * d).mean() - variance_focus * d.mean() ** 2
    return scale * torch.sqrt(value.clamp_min(1e-12))


def eigen_si_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                  si_lambda: float = 0.5, log_input: bool = False) -> torch.Tensor:
    """
    Scale-invariant loss of Eigen et al. (2014, eq. 4) as written there, without root or scale.

    ``mean(d^2) - si_lambda * mean(d)^2`` with ``d = log(pred) - log(target)`` over the valid
    pixels of the batch; 0.5 is the paper's (and the accelerated-DPT study's) ``si_lambda``.
    """
    d, _ = _log_difference(pred, target, mask, log_input)
    if d.numel() == 0:
        return pred.sum() * 0
    return (d * d).mean() - si_lambda * d.mean() ** 2


def log_l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                log_input: bool = False) -> torch.Tensor:
    """
    Mean absolute difference of log depths over the valid pixels.

    With ``log_input``, ``pred`` is log-depth.
    """
    d, _ = _log_difference(pred, target, mask, log_input)
    if d.numel() == 0:
        return pred.sum() * 0
    return d.abs().mean()


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor,
                      ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """
    Cross-entropy of ``logits`` ``(B, C, h, w)`` against ``labels`` ``(B, H, W)``.

    Pixels labelled ``ignore_index`` do not count; a batch with no labelled pixel gives 0.
    """
    labels = labels.long()
    if labels.dim() == 4:
        labels = labels[:, 0]
    if not bool((labels != ignore_index).any()):
        return logits.sum() * 0
    logits = resize_to(logits, labels)
    return F.cross_entropy(logits, labels, ignore_index=ignore_index)


def logit_distillation_loss(student_logits: torch.Tensor, teacher_log_probs: torch.Tensor,
                            temperature: float) -> torch.Tensor:
    """
    Soft-target loss of Hinton et al. (2015) per pixel: ``T^2 * KL(p_teacher || p_student)``.

    ``p = softmax(logits / T)`` over the class dimension of ``(B, C, h, w)`` tensors of one size;
    ``teacher_log_probs`` are the teacher's log-probabilities at ``T`` (detached here). The KL is
    summed over classes and averaged over every pixel, labelled or not. It is the usual
    ``kl_div(log_softmax(student / T), softmax(teacher / T))``, which studies write as
    ``KL(softmax(student / T) || softmax(teacher / T))`` after the order of its arguments.

    The ``T^2`` factor is Hinton's: the gradient of the KL with respect to a student logit is
    ``(p_student - p_teacher) / T``, and at a high temperature both probabilities differ from
    uniform by about ``logit / (C T)``, so the gradients shrink as ``1 / T^2``. Scaling by ``T^2``
    keeps the soft term's gradients on the scale of the cross-entropy's at any ``T``, so that
    ``alpha * task + (1 - alpha) * this`` weighs the two as ``alpha`` says (at ``T = 20`` the
    unscaled term would carry 1/400 of its weight).
    """
    if student_logits.shape != teacher_log_probs.shape:
        raise ValueError(f'student logits {tuple(student_logits.shape)} and teacher '
                         f'log-probabilities {tuple(teacher_log_probs.shape)} differ in shape')
    student_log_probs = F.log_softmax(student_logits.float() / temperature, dim=1)
    kl = F.kl_div(student_log_probs, teacher_log_probs.detach().float(), reduction='none',
                  log_target=True)
    return kl.sum(dim=1).mean() * temperature ** 2


def align_scale_shift(source: torch.Tensor, target: torch.Tensor,
                      mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Per image, ``(scale, shift)`` minimising ``sum(mask * (scale*source + shift - target)^2)``.

    The closed-form least-squares solution MiDaS uses; all tensors are ``(B, 1, H, W)`` and the
    results are ``(B,)``. An image whose masked source is constant gets scale 0 and the mean shift.
    """
    m = mask.to(source.dtype)
    dims = (1, 2, 3)
    a00 = (m * source * source).sum(dims)
    a01 = (m * source).sum(dims)
    a11 = m.sum(dims)
    b0 = (m * source * target).sum(dims)
    b1 = (m * target).sum(dims)
    det = a00 * a11 - a01 * a01
    ok = det > 1e-12 * a11.clamp_min(1) ** 2
    safe_det = torch.where(ok, det, torch.ones_like(det))
    scale = torch.where(ok, (a11 * b0 - a01 * b1) / safe_det, torch.zeros_like(det))
    shift = torch.where(ok, (a00 * b1 - a01 * b0) / safe_det, b1 / a11.clamp_min(1))
    return scale, shift


def ssi_distillation_loss(student_depth: torch.Tensor, teacher_inverse: torch.Tensor,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
    """
    Scale-and-shift-invariant distillation from a relative (inverse depth) teacher.

    The student's inverse depth, upsampled to the teacher's size, is aligned to the teacher per
    image by least squares (MiDaS); the loss is the mean absolute residual divided by the
    teacher's mean absolute deviation from its median, so it does not depend on the teacher's
    arbitrary scale.
    """
    teacher = _as_4d(teacher_inverse).detach()
    student_inverse = 1.0 / resize_to(_as_4d(student_depth), teacher).clamp_min(_TINY)
    valid = torch.isfinite(teacher)
    if mask is not None:
        valid &= _as_4d(mask).bool()
    teacher = torch.where(valid, teacher, torch.zeros_like(teacher))
    scale, shift = align_scale_shift(student_inverse, teacher, valid)
    aligned = scale.view(-1, 1, 1, 1) * student_inverse + shift.view(-1, 1, 1, 1)
    m = valid.to(teacher.dtype)
    count = m.sum((1, 2, 3)).clamp_min(1)
    residual = (m * (aligned - teacher).abs()).sum((1, 2, 3)) / count
    spread = torch.stack([
        (t[v] - t[v].median()).abs().mean() if bool(v.any()) else t.new_tensor(1.0)
        for t, v in zip(teacher, valid)])
    return (residual / spread.clamp_min(_TINY)).mean()


def silog_distillation_loss(student_depth: torch.Tensor, teacher_depth: torch.Tensor,
                            variance_focus: float = SILOG_LAMBDA,
                            scale: float = SILOG_SCALE) -> torch.Tensor:
    """SI-log loss against a metric teacher's depth (detached), used as pseudo ground truth."""
    return silog_loss(student_depth, teacher_depth.detach(), variance_focus=variance_focus,
                      scale=scale)


def weighted_sum(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Return ``sum(weights[name] * terms[name])``; every term needs a weight."""
    missing = sorted(set(terms) - set(weights))
    if missing:
        raise KeyError(f'no weight for loss terms {missing}; weights given: {sorted(weights)}')
    total = None
    for name, value in terms.items():
        part = weights[name] * value
        total = part if total is None else total + part
    if total is None:
        raise ValueError('weighted_sum needs at least one loss term')
    return total
