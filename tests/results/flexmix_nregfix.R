# Reference numbers from R flexmix: NregFix data, y ~ x1 + x2, K = 3, all regression
# coefficients class-specific (plain FLXMRglm), concomitant FLXPmultinom(~ w).
# No grouping (each row is its own group).
# Run from inside tests/results/:  Rscript flexmix_nregfix.R
source("flexmix_ref_common.R")

data("NregFix", package = "flexmix")
# x2 and w are 0/1 factors in flexmix's data; they are stored and fitted here as
# numeric 0/1 (identical design matrices; coefficient names become "x2"/"w"
# instead of "x21"/"w1"). y is a one-column matrix in NregFix; stored as a vector.
raw <- data.frame(y = as.numeric(NregFix$y), x1 = NregFix$x1,
                  x2 = as.integer(as.character(NregFix$x2)),
                  w = as.integer(as.character(NregFix$w)),
                  class = NregFix$class)
dat <- write_data_csv(raw, "flexmix_nregfix.csv")   # fitted data = CSV read back

run_case("flexmix_nregfix", dat,
         formula = y ~ x1 + x2, yname = "y", reg_rhs = ~ x1 + x2,
         group_var = NULL, k = 3, conc = ~ w, nrep = 50, seed = 1,
         extra = list(data_source = "data('NregFix', package = 'flexmix'); x2, w converted from factor to numeric 0/1; 'class' is the true simulated class (not used in the fit)",
                      flexmix_call = "stepFlexmix(y ~ x1 + x2, data = dat, k = 3, nrep = 50, control = list(tolerance = 1e-10, iter.max = 5000, minprior = 0), concomitant = FLXPmultinom(~ w))"),
         notes = c("flexmix's documented NregFix example uses FLXMRglmfix (x2 effect common to all classes, x1 effect in 2 of 3 classes); as requested this case uses plain FLXMRglm, i.e. every coefficient class-specific.",
                   "No grouping: n_groups = n_rows; the posterior file is keyed by row number (1-based).",
                   "Concomitant M-step in flexmix is nnet (BFGS with nnet's default tolerances, started from 0 in every EM iteration); the stored concomitant coef (@concomitant@coef) is a final multinom() refit on the final posteriors, so the final E-step posteriors differ slightly from those implied by the stored parameters (posterior_recomputed_max_abs_diff ~1e-8). logLik_recomputed still equals logLik(best) to ~1e-14 relative.",
                   "The 37 random starts that reach the global mode stop at logLiks spread over ~3.4e-5 (-399.40992913 .. -399.40996323): flexmix's stopping rule (relative logLik change < 1e-10) with the inexact nnet M-step stops EM before an exact fixed point. So flexmix's 'best' parameters are only reproducible to roughly 1e-3; compare parameter estimates with mle_by_hand (exact) instead, and logLik at the stored parameters with logLik_recomputed (exact).",
                   "Sort order for this case: 'prior' = mean posterior over rows (flexmix @prior), descending."))
