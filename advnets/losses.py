"""GAN losses as plain functions of discriminator outputs, and the critic regularisers.

All are losses to *minimise*. For the classifier losses D(x) = sigmoid(logit), computed with
`logsigmoid`, so they stay finite for any logit: log D = logsigmoid(l), log(1 - D) =
logsigmoid(-l). For the Wasserstein, least-squares and hinge losses the "logit" is the
critic's raw output. Loss parameters (LSGAN's a, b, c; the ML cost's normalisation) are
keyword arguments, bound from the GAN method's options (`advnets.methods.gan`).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.registry import Registry

DLoss = Callable[[Tensor, Tensor], Tensor]
GLoss = Callable[[Tensor], Tensor]

D_LOSSES: Registry[DLoss] = Registry("discriminator loss")
G_LOSSES: Registry[GLoss] = Registry("generator loss")


def value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The minimax value V(D,G) = E[log D(x)] + E[log(1 - D(G(z)))] of the paper, eq. (1)."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


@D_LOSSES.register("minimax")
def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D ascends V(D,G); as a loss to minimise, -V."""
    return -value(real_logits, fake_logits)


@G_LOSSES.register("minimax")
def g_minimax(fake_logits: Tensor) -> Tensor:
    """G descends E[log(1 - D(G(z)))]: the saturating loss of the minimax game."""
    return F.logsigmoid(-fake_logits).mean()


@G_LOSSES.register("non_saturating")
def g_non_saturating(fake_logits: Tensor) -> Tensor:
    """G descends -E[log D(G(z))]: same fixed point, strong gradients early (paper, Sec. 3)."""
    return -F.logsigmoid(fake_logits).mean()


@G_LOSSES.register("maximum_likelihood")
def g_maximum_likelihood(fake_logits: Tensor, *, normalize: bool = False) -> Tensor:
    """The maximum-likelihood generator cost (Goodfellow 2014, "On distinguishability
    criteria"; NIPS 2016 tutorial, eq. 16): J = -1/2 E_z[f(G(z))] with the importance weight
    f = p_data/p_g = D/(1 - D) = exp(logit) at the optimal D. Its gradient equals that of
    KL(p_data || p_g) when D is optimal.

    exp(logit) is taken from the logit, never as D/(1 - D), which is inf once sigmoid rounds
    to 1. With `normalize`, the weights are normalised over the batch, w = softmax(logits)
    (self-normalised importance sampling), held constant: the gradient is -sum_i w_i dl_i,
    the plain one rescaled by the positive per-batch factor 2n/sum exp(l), free of overflow."""
    if normalize:
        weights = torch.softmax(fake_logits.detach().flatten(), 0).view_as(fake_logits)
        return -(weights * fake_logits).sum()
    return -0.5 * torch.exp(fake_logits).mean()


@D_LOSSES.register("wasserstein")
def d_wasserstein(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The critic (Arjovsky et al. 2017) ascends E[f(x)] - E[f(G(z))], an estimate of the
    Wasserstein-1 distance when f is 1-Lipschitz (clipping or a gradient penalty)."""
    return fake_logits.mean() - real_logits.mean()


@G_LOSSES.register("wasserstein")
@G_LOSSES.register("hinge")
def g_wasserstein(fake_logits: Tensor) -> Tensor:
    """G descends -E[f(G(z))] (WGAN; also the generator loss of the hinge GAN)."""
    return -fake_logits.mean()


@D_LOSSES.register("least_squares")
def d_least_squares(
    real_logits: Tensor, fake_logits: Tensor, *, a: float = 0.0, b: float = 1.0
) -> Tensor:
    """LSGAN (Mao et al. 2017, eq. 2): 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], with D's
    raw output as D; a labels fake, b real."""
    return 0.5 * ((real_logits - b) ** 2).mean() + 0.5 * ((fake_logits - a) ** 2).mean()


@G_LOSSES.register("least_squares")
def g_least_squares(fake_logits: Tensor, *, c: float = 1.0) -> Tensor:
    """LSGAN: G descends 1/2 E[(D(G(z)) - c)^2]; c is the value G wants D to believe."""
    return 0.5 * ((fake_logits - c) ** 2).mean()


@D_LOSSES.register("hinge")
def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def interpolates(real: Tensor, fake: Tensor, alpha: Tensor | None = None, pack: int = 1) -> Tensor:
    """x_hat = alpha x + (1 - alpha) x_tilde, alpha ~ U[0, 1] per critic input (WGAN-GP,
    Alg. 1): per sample, or shared by the `pack` consecutive samples of a PacGAN pack, so
    that each interpolated pack lies on the segment between a real and a fake pack."""
    if alpha is None:
        alpha = torch.rand(len(real) // pack, device=real.device, dtype=real.dtype)
        alpha = alpha.repeat_interleave(pack)
    alpha = alpha.view(-1, *([1] * (real.ndim - 1)))
    return alpha * real.detach() + (1 - alpha) * fake.detach()


def gradient_penalty(
    D: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor | None = None, pack: int = 1
) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017, eq. 3, without lambda):
    E[(||grad_x_hat D(x_hat)||_2 - 1)^2] on random interpolates, differentiable in D; a
    critic of packs of `pack` samples (PacGAN) gets one alpha and one norm per pack."""
    x_hat = interpolates(real, fake, alpha, pack).requires_grad_(True)
    out = D(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    # one norm per critic input: per sample, or per pack of m consecutive samples (PacGAN)
    return ((grad.reshape(len(out), -1).norm(dim=1) - 1) ** 2).mean()


@torch.no_grad()
def clip_weights_(D: nn.Module, clip: float) -> None:
    """WGAN's weight clipping (Arjovsky et al. 2017, Alg. 1): every parameter into
    [-clip, clip], as the reference code does (batch-norm scales and shifts included)."""
    for p in D.parameters():
        p.clamp_(-clip, clip)


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per sample (summed over z's dimensions):
    -1/2 sum(1 + logvar - mean^2 - exp(logvar)), the VAE's prior term."""
    return -0.5 * (1 + logvar - mean.square() - logvar.exp()).sum(1)


def feature_reconstruction(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """VAE/GAN's L_llike (Larsen et al. 2016): -log N(Dis_l(x) | Dis_l(x~), I) up to its
    constant, 1/2 ||Dis_l(x) - Dis_l(x~)||^2 per sample."""
    return 0.5 * (real_features.flatten(1) - fake_features.flatten(1)).square().sum(1)


def feature_matching(
    real_features: Tensor, fake_features: Tensor, mean_over_features: bool = False
) -> Tensor:
    """Feature matching (Salimans et al. 2016, Sec. 3.1): ||E_x f(x) - E_z f(G(z))||_2^2, the
    squared L2 distance between the batch means of D's features (N, ...) on data and on
    samples; not a per-sample distance. Zero when the means agree. `mean_over_features`:
    divided by the number of features, as their code's loss."""
    diff = real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)
    return diff.pow(2).mean() if mean_over_features else diff.pow(2).sum()
