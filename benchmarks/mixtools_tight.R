# mixtools regmixEM on a data set with columns y and x (the tight_ungrouped design of
# benchmarks/hard_designs.py), from many random starts: the best log-likelihood it reaches.
#
# Run: Rscript benchmarks/mixtools_tight.R data.csv [n_starts = 50]
# Write the CSV with, e.g.:
#   python -c "import sys; sys.path.insert(0, 'benchmarks'); import hard_designs as h;
#              h.tight_ungrouped(0)['data'].to_csv('tight.csv', index=False,
#              float_format='%.17g')"
# Prints one line per start (seed, log-likelihood, iterations or the error) and the best fit.

suppressPackageStartupMessages(library(mixtools))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript mixtools_tight.R data.csv [n_starts]")
d <- read.csv(args[1])
n_starts <- if (length(args) >= 2) as.integer(args[2]) else 50L

fits <- vector("list", n_starts)
llf <- rep(NA_real_, n_starts)
for (s in seq_len(n_starts)) {
  set.seed(s)
  fit <- tryCatch(
    {
      out <- NULL
      capture.output(out <- regmixEM(d$y, d$x, k = 2))  # silences "number of iterations="
      out
    },
    error = function(e) e
  )
  if (inherits(fit, "error")) {
    cat(sprintf("start %2d: error: %s\n", s, conditionMessage(fit)))
    next
  }
  fits[[s]] <- fit
  llf[s] <- fit$loglik
  cat(sprintf("start %2d: loglik %.10f  iterations %d  sigma %s\n", s, fit$loglik,
              length(fit$all.loglik) - 1, paste(signif(fit$sigma, 4), collapse = " ")))
}
ok <- is.finite(llf)
cat(sprintf("\n%d of %d starts finished; %d errors\n", sum(ok), n_starts, sum(!ok)))
if (any(ok)) {
  best <- which.max(llf)
  b <- fits[[best]]
  cat(sprintf("best loglik %.10f (start %d); reached by %d starts within 1e-6\n",
              llf[best], best, sum(llf[ok] >= llf[best] - 1e-6 * (1 + abs(llf[best])))))
  cat("distinct maxima (rounded to 1e-3) and counts:\n")
  print(table(round(llf[ok], 3)))
  cat("best parameters: lambda", signif(b$lambda, 6), "\n")
  cat("  beta (rows intercept, x; one column per component):\n")
  print(signif(b$beta, 6))
  cat("  sigma", signif(b$sigma, 6), "\n")
}
