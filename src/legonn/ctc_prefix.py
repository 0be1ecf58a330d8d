"""CTC prefix scores over an interface's marginals, for joint CTC/attention decoding.

For a prefix h (no blanks) and marginals x (T frames of log-probabilities, blank included), the CTC
prefix probability ψ(h) is the probability that the first frames emit h and the rest emit anything
that starts with h (Graves 2008, §7.2; Watanabe et al. 2017). It is built from two forward
variables per frame t: γⁿₜ(h), the first t+1 frames emit h ending in h's last token, and γᵇₜ(h),
ending in blank. Extending h by a token c:

    φₜ = γᵇₜ(h) + γⁿₜ(h)   (γᵇₜ(h) alone when c repeats h's last token: a blank must separate them)
    γⁿₜ(h+c) = (γⁿₜ₋₁(h+c) + φₜ₋₁) · xₜ(c)       γᵇₜ(h+c) = (γᵇₜ₋₁(h+c) + γⁿₜ₋₁(h+c)) · xₜ(blank)
    ψ(h+c) = Σₜ φₜ₋₁ · xₜ(c)                       ψ(h+eos) = γⁿ_{T-1}(h) + γᵇ_{T-1}(h)

(φ₋₁ = 1 for the empty prefix, 0 otherwise). The two γ recursions are first-order linear in
probability space, aₜ = xₜ·(aₜ₋₁ + pₜ₋₁), so they have a closed form with cumulative sums,
log aₜ = Xₜ + logcumsumexp(log pₛ₋₁ − Xₛ₋₁) with X the running sum of log xₜ: every frame at once, no
Python loop over time. The sums reach ~1e4·T in magnitude, hence float64 and a floor on log x.

Everything is batched over N = rows × beams hypotheses; `score` looks at C candidate tokens per
hypothesis (the decoder's pre-beam), O(N · C · T), never O(N · V · T).
"""

from __future__ import annotations

import torch
from torch import Tensor

from legonn.interface import Marginals

# log x is floored here: e^-1e4 is zero for every purpose, and the floor keeps the running sums finite
LOG_FLOOR = -1e4


def _shift_right(x: Tensor, first: float) -> Tensor:
    """x[..., t-1] at t along the last axis, `first` at t = 0."""
    return torch.cat([x.new_full((*x.shape[:-1], 1), first), x[..., :-1]], dim=-1)


def _linear_scan(log_x: Tensor, log_p_prev: Tensor) -> Tensor:
    """log aₜ for aₜ = xₜ·(aₜ₋₁ + pₜ₋₁), a₋₁ = 0, along the last axis; log_p_prev[..., t] = log pₜ₋₁."""
    cum = log_x.cumsum(-1)
    return cum + torch.logcumsumexp(log_p_prev - _shift_right(cum, 0.0), dim=-1)


class CTCPrefixScorer:
    """Prefix scores ψ(h) of N = B·beams live hypotheses under B rows of marginals.

    Hypothesis n belongs to row n // beams. State per hypothesis: γⁿ, γᵇ (N × T, float64), ψ (N) and
    its last token. Start: every hypothesis is the empty prefix (ψ = 0).
    """

    def __init__(self, marginals: Marginals, beams: int):
        log_probs = marginals.log_probs.float().clamp_min(LOG_FLOOR)  # B × T × V
        b, t, _ = log_probs.shape
        self.beams, self.blank_id = beams, marginals.vocab.blank
        self.log_probs = log_probs
        self.row = torch.arange(b, device=log_probs.device).repeat_interleave(beams)  # N
        lengths = marginals.lengths.to(log_probs.device)
        self.valid = torch.arange(t, device=log_probs.device)[None] < lengths[self.row, None]  # N × T
        self.last_frame = (lengths[self.row] - 1).clamp_min(0)  # N
        self.log_blank = log_probs[..., self.blank_id].double()[self.row]  # N × T
        self.gamma_n = torch.full_like(self.log_blank, -torch.inf)
        self.gamma_b = self.log_blank.cumsum(-1)
        self.psi = self.log_blank.new_zeros(len(self.row))
        self.last = torch.full((len(self.row),), -1, dtype=torch.long, device=log_probs.device)
        self.empty = True
        # the share of the interface's non-blank mass up to each frame: how much a prefix has "read"
        mass = (1.0 - self.log_blank.exp()).masked_fill(~self.valid, 0.0)
        total = mass.sum(-1, keepdim=True)
        self.read_share = torch.where(total > 1e-6, mass.cumsum(-1) / total.clamp_min(1e-12), 1.0)

    def _token_log_probs(self, tokens: Tensor) -> Tensor:
        """tokens N × C → log xₜ(c) as N × C × T (float64)."""
        n, c = tokens.shape
        by_row = tokens.view(-1, self.beams * c)  # B × beams·C: each row's candidates side by side
        picked = self.log_probs.gather(2, by_row[:, None, :].expand(-1, self.log_probs.size(1), -1))
        return picked.view(-1, self.log_probs.size(1), self.beams, c).permute(0, 2, 3, 1).reshape(n, c, -1).double()

    def _phi_prev(self, tokens: Tensor) -> Tensor:
        """log φₜ₋₁ for extending each hypothesis by each of tokens (N × C) → N × C × T."""
        either = torch.logaddexp(self.gamma_n, self.gamma_b)
        phi = torch.where((tokens == self.last[:, None])[..., None], self.gamma_b[:, None], either[:, None])
        return _shift_right(phi, 0.0 if self.empty else -torch.inf)

    def score(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens N × C → (ψ(h+c) N × C, ψ(h+eos) N): log-probabilities, not increments."""
        x = self._token_log_probs(tokens)
        terms = (self._phi_prev(tokens) + x).masked_fill(~self.valid[:, None], -torch.inf)
        prefix = terms.logsumexp(-1)
        either = torch.logaddexp(self.gamma_n, self.gamma_b)
        ended = either.gather(1, self.last_frame[:, None]).squeeze(1)
        return prefix, ended

    def read_fraction(self) -> Tensor:
        """N: the share of the interface's non-blank mass before the frame where each prefix is most
        likely complete (argmax over t of γⁿₜ + γᵇₜ); 1 for an interface that is blank throughout."""
        either = torch.logaddexp(self.gamma_n, self.gamma_b).masked_fill(~self.valid, -torch.inf)
        return self.read_share.gather(1, either.argmax(-1, keepdim=True)).squeeze(1)

    def advance(self, parents: Tensor, tokens: Tensor, psi: Tensor) -> None:
        """Hypothesis n becomes parents[n] + tokens[n] (N each), whose prefix score `score` gave as psi."""
        self.gamma_n, self.gamma_b = self.gamma_n[parents], self.gamma_b[parents]
        self.last = self.last[parents]
        x = self._token_log_probs(tokens[:, None])[:, 0]  # N × T
        phi_prev = self._phi_prev(tokens[:, None])[:, 0]
        gamma_n = _linear_scan(x, phi_prev)
        self.gamma_b = _linear_scan(self.log_blank, _shift_right(gamma_n, -torch.inf))
        self.gamma_n, self.psi, self.last, self.empty = gamma_n, psi, tokens, False
