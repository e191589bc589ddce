"""Total-variation deconvolution by ADMM (Boyd et al. 2011, sec. 6.4.1 applied to images): the
one classical baseline no kept library provides. It solves

    min_x  1/2 ||k * x - b||^2 + lam * ||D x||_1

(k * x: circular convolution with the blur kernel, D: forward differences along rows and
columns, anisotropic TV) by splitting z = D x. The x-update is a linear solve that FFTs
diagonalise; the z-update soft-thresholds; u accumulates the residual D x - z."""

import numpy as np


def psf_to_otf(psf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The FFT of `psf` zero-padded to `shape` with its centre moved to pixel (0, 0)."""
    padded = np.zeros(shape)
    padded[: psf.shape[0], : psf.shape[1]] = psf
    padded = np.roll(padded, (-(psf.shape[0] // 2), -(psf.shape[1] // 2)), axis=(0, 1))
    return np.fft.fft2(padded)


def _grad(x: np.ndarray) -> np.ndarray:
    return np.stack([np.roll(x, -1, 0) - x, np.roll(x, -1, 1) - x])


def _grad_adjoint(g: np.ndarray) -> np.ndarray:
    return (np.roll(g[0], 1, 0) - g[0]) + (np.roll(g[1], 1, 1) - g[1])


def tv_objective(x: np.ndarray, b: np.ndarray, psf: np.ndarray, lam: float) -> float:
    """1/2 ||k * x - b||^2 + lam ||D x||_1 (circular boundaries), the value ADMM minimises."""
    kx = np.real(np.fft.ifft2(psf_to_otf(psf, x.shape) * np.fft.fft2(x)))
    return 0.5 * float(np.square(kx - b).sum()) + lam * float(np.abs(_grad(x)).sum())


def admm_tv_deconvolve(
    b: np.ndarray, psf: np.ndarray, lam: float, rho: float | None = None, iters: int = 100
) -> np.ndarray:
    """The TV-regularised deconvolution of one 2-D image `b` (circular boundaries)."""
    rho = 10 * lam if rho is None else rho
    otf = psf_to_otf(psf, b.shape)
    lap = psf_to_otf(np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float), b.shape)
    denominator = np.abs(otf) ** 2 + rho * np.real(lap)
    ktb = np.conj(otf) * np.fft.fft2(b)
    x = b.copy()
    z = _grad(x)
    u = np.zeros_like(z)
    for _ in range(iters):
        rhs = ktb + rho * np.fft.fft2(_grad_adjoint(z - u))
        x = np.real(np.fft.ifft2(rhs / denominator))
        dx = _grad(x)
        v = dx + u
        z = np.sign(v) * np.maximum(np.abs(v) - lam / rho, 0)
        u = v - z
    return x
