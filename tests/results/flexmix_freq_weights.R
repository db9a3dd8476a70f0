# Reference numbers from R flexmix for FREQUENCY-WEIGHTED grouped data:
# y ~ x1 + x2 | id, K = 2, weights = ~ w (integer, constant within id).
# Run from inside tests/results/:  Rscript flexmix_freq_weights.R
# Writes flexmix_freq_weights.csv (the data: y, x1, x2, id, w) and
# flexmix_freq_weights.json.
#
# flexmix documents 'weights' as "an optional vector of replication weights"
# (?flexmix; integers only, identical within groups, both checked by flexmix).
# The script verifies numerically that they act as replication of whole groups:
# the same model is fitted to the data with every group repeated w times
# (new ids), and flexmix's own log-likelihood functions of the two fits are
# compared at the same parameters, as are the exact maxima.
source("flexmix_ref_common.R")

case <- "flexmix_freq_weights"

## ---- simulation (deterministic) ----
set.seed(20240611)
G <- 120
sizes <- sample(2:6, G, replace = TRUE)              # 2..6 rows per group
true_prior <- c(0.6, 0.4)
cls <- ifelse(runif(G) < true_prior[1], 1L, 2L)      # class constant within group
wg_true <- sample(1:4, G, replace = TRUE)            # frequency weight per group
id <- rep(seq_len(G), sizes)
true_class <- cls[id]
n <- length(id)
x1 <- rnorm(n); x2 <- rnorm(n)
B <- rbind(c(1, 1, 0.5),     # class 1: (Intercept), x1, x2
           c(0, -0.5, 1))    # class 2
S <- c(1, 1.3)
y <- B[true_class, 1] + B[true_class, 2] * x1 + B[true_class, 3] * x2 +
     rnorm(n) * S[true_class]
raw <- data.frame(y = y, x1 = x1, x2 = x2, id = id, w = wg_true[id])
dat <- write_data_csv(raw, paste0(case, ".csv"))     # fitted data = CSV read back
stopifnot(is.integer(dat$w), is.integer(dat$id))

## ---- per-group quantities of the weighted data ----
gid <- match(dat$id, unique(dat$id))
groupfirst <- !duplicated(gid)
wg <- dat$w[groupfirst]                               # weight of group 1..G
stopifnot(length(wg) == G, all(tapply(dat$w, gid, function(v) length(unique(v))) == 1))
X <- model.matrix(~ x1 + x2, dat)
yv <- dat$y
p <- ncol(X)
k <- 2

## ---- the replicated data: group g repeated w_g times, each copy a new id ----
rows_of <- split(seq_len(n), gid)
rep_rows <- unlist(lapply(seq_len(G), function(g) rep(rows_of[[g]], times = wg[g])))
rep_id <- unlist(lapply(seq_len(G), function(g) {
  first <- sum(wg[seq_len(g - 1)])                    # copies before group g
  rep(first + seq_len(wg[g]), each = length(rows_of[[g]]))
}))
rep_dat <- data.frame(y = dat$y[rep_rows], x1 = dat$x1[rep_rows], x2 = dat$x2[rep_rows],
                      id = as.integer(rep_id), orig_id = dat$id[rep_rows])
stopifnot(nrow(rep_dat) == sum(dat$w), length(unique(rep_dat$id)) == sum(wg))
rep_gid <- match(rep_dat$id, unique(rep_dat$id))
Xr <- model.matrix(~ x1 + x2, rep_dat)

## ---- fits: weighted and replicated, 50 random starts each ----
nrep <- 50
set.seed(1)
sw <- stepFlexmix(y ~ x1 + x2 | id, data = dat, k = k, nrep = nrep, weights = ~ w,
                  control = FLX_CONTROL, drop = FALSE, verbose = FALSE)
bw <- sw@models[[1]]
set.seed(1)
sr <- stepFlexmix(y ~ x1 + x2 | id, data = rep_dat, k = k, nrep = nrep,
                  control = FLX_CONTROL, drop = FALSE, verbose = FALSE)
br <- sr@models[[1]]
stopifnot(bw@k == k, br@k == k, identical(as.integer(bw@weights), dat$w),
          max(abs(X - bw@model[[1]]@x)) == 0, max(abs(Xr - br@model[[1]]@x)) == 0)

params_of <- function(b) list(
  coefs = lapply(seq_len(k), function(j) b@components[[j]][[1]]@parameters$coef),
  sigmas = sapply(seq_len(k), function(j) b@components[[j]][[1]]@parameters$sigma),
  prior = as.vector(b@prior))
pw <- params_of(bw); pr <- params_of(br)
cnames <- names(pw$coefs[[1]])
# sort order: prior descending (as in run_case)
sort_order <- function(pp) order(-round(pp$prior, 6), sapply(pp$coefs, `[`, 1))
ordw <- sort_order(pw); ordr <- sort_order(pr)

## weighted log-likelihood by hand: sum_g w_g log sum_s pi_s prod_t phi(...)
llw_by_hand <- function(coefs, sigmas, prior) {
  h <- ll_by_hand(yv, X, gid, coefs, sigmas, matrix(log(prior), G, k, byrow = TRUE))
  list(ll = sum(wg * h$ll_groups), post = h$post)
}
hw <- llw_by_hand(pw$coefs, pw$sigmas, pw$prior)
ll_w <- as.numeric(logLik(bw)); ll_r <- as.numeric(logLik(br))
llfun_w <- FLXlogLikfun(bw); llfun_r <- FLXlogLikfun(br)
grfun_w <- FLXgradlogLikfun(bw); grfun_r <- FLXgradlogLikfun(br)
par_w <- FLXgetParameters(bw); par_r <- FLXgetParameters(br)
stopifnot(identical(names(par_w), names(par_r)))

## flexmix's weighted sigma formula (N = rows of the UNREPLICATED data)
post_w <- bw@posterior$scaled[groupfirst, , drop = FALSE]
sig_formula <- function(N) sapply(seq_len(k), function(j) {
  ww <- post_w[gid, j] * wg[gid]; r <- yv - drop(X %*% pw$coefs[[j]])
  sqrt(N / (N - p) * sum(ww * r^2) / sum(ww))
})
sig_rows <- sig_formula(n); sig_reprows <- sig_formula(nrow(rep_dat))

## ---- exact MLE of the weighted log-likelihood (EM by hand) ----
# Like mle_em of flexmix_ref_common.R, with the group's frequency weight
# multiplying its posterior in the M-step and its log-likelihood in the sum.
mle_em_w <- function(coefs, sigmas, pri, tol = 1e-13, maxit = 200000) {
  ll_old <- -Inf
  for (it in seq_len(maxit)) {
    e <- llw_by_hand(coefs, sigmas, pri)
    old <- c(unlist(coefs), sigmas, pri)
    for (s in seq_len(k)) {
      ww <- e$post[gid, s] * wg[gid]
      fit <- lm.wfit(X, yv, ww)
      coefs[[s]] <- fit$coefficients
      sigmas[s] <- sqrt(sum(ww * (yv - X %*% coefs[[s]])^2) / sum(ww))
    }
    pri <- colSums(e$post * wg) / sum(wg)
    new <- c(unlist(coefs), sigmas, pri)
    if (max(abs(new - old)) < tol && abs(e$ll - ll_old) < 1e-12 * abs(e$ll)) break
    ll_old <- e$ll
  }
  e <- llw_by_hand(coefs, sigmas, pri)
  list(coefs = coefs, sigmas = sigmas, pri = pri, iter = it, ll = e$ll, post = e$post)
}
mle <- mle_em_w(pw$coefs, pw$sigmas, pw$prior)
# the same by the unweighted EM of flexmix_ref_common.R on the replicated data,
# started at the replicated flexmix fit with its components in the weighted fit's order
match_r <- ordr[match(seq_len(k), ordw)]            # replicated comp for weighted comp j
mle_rep <- mle_em(rep_dat$y, Xr, rep_gid, pr$coefs[match_r], pr$sigmas[match_r],
                  pri = pr$prior[match_r])

to_par <- function(template, coefs, sigmas, pri) {
  for (j in seq_len(k)) {
    template[paste0("model.1_Comp.", j, "_coef.", cnames)] <- coefs[[j]]
    template[paste0("model.1_Comp.", j, "_log(sigma)")] <- log(sigmas[j])
  }
  template[paste0("concomitant_Comp.", 2:k, ".alpha")] <- log(pri[-1] / pri[1])
  template
}
mle_par <- to_par(par_w, mle$coefs, mle$sigmas, mle$pri)
mle_rep_par <- to_par(par_w, mle_rep$coefs, mle_rep$sigmas, mle_rep$pri)
H_w <- optimHess(mle_par, llfun_w, grfun_w)
H_r <- optimHess(mle_par, llfun_r, grfun_r)
V_w <- -solve(H_w); se_w <- sqrt(diag(V_w))
V_r <- -solve(H_r); se_r <- sqrt(diag(V_r))

## ---- refit (optim) of both flexmix fits ----
rw <- refit(bw); rr <- refit(br)
rse_w <- sqrt(diag(rw@vcov)); rse_r <- sqrt(diag(rr@vcov))

## ---- JSON helpers ----
# alpha of the sorted 2nd component relative to the sorted 1st: linear in the parameters
alpha_A <- function(ord, parnames) {
  A <- matrix(0, 1, length(parnames))
  raw <- function(j) match(paste0("concomitant_Comp.", j, ".alpha"), parnames)
  if (ord[2] != 1) A[1, raw(ord[2])] <- 1
  if (ord[1] != 1) A[1, raw(ord[1])] <- -1
  A
}
comp_se <- function(j, se) {
  nm <- paste0("model.1_Comp.", j, "_coef.", cnames)
  ls <- paste0("model.1_Comp.", j, "_log(sigma)")
  list(se = as.list(setNames(unname(se[nm]), cnames)), log_sigma_se = unname(se[ls]))
}
em_json <- function(b, pp, ord, sfit) list(
  logLik = as.numeric(logLik(b)), iter = b@iter, converged = b@converged, df = b@df,
  cluster_sizes_weighted = json_array(as.vector(b@size[ord])),
  components = lapply(ord, function(j) list(
    flexmix_component = j, coef = as.list(pp$coefs[[j]]), sigma = pp$sigmas[j],
    prior = pp$prior[j])),
  flexmix_component_order = json_array(ord),
  start_logLiks = json_array(as.vector(sfit@logLiks[1, ])),
  n_starts_within_1e_6_of_best = sum(abs(sfit@logLiks[1, ] - max(sfit@logLiks[1, ], na.rm = TRUE)) < 1e-6,
                                     na.rm = TRUE))
refit_json <- function(r, rse, ord, llfun) {
  rc <- r@coef
  A <- alpha_A(ord, names(rc))
  list(
    logLik_at_refit_coef = llfun(rc),
    components = lapply(ord, function(j) c(list(
      flexmix_component = j,
      coef = as.list(setNames(unname(rc[paste0("model.1_Comp.", j, "_coef.", cnames)]), cnames)),
      sigma = exp(unname(rc[paste0("model.1_Comp.", j, "_log(sigma)")]))),
      comp_se(j, rse))),
    alpha_sorted = list(parameter = "alpha = log(pi_sorted.2 / pi_sorted.1)",
                        estimate = drop(A %*% rc), se = sqrt(drop(A %*% r@vcov %*% t(A)))))
}
Aw <- alpha_A(ordw, names(mle_par))

ll_w_at_mle_rep <- llw_by_hand(mle_rep$coefs, mle_rep$sigmas, mle_rep$pri)$ll
res <- list(
  case = case,
  formula = "y ~ x1 + x2 | id",
  weights = "~ w (flexmix: integer replication weights, identical within groups)",
  concomitant = "none (constant class probabilities, FLXPconstant)",
  k = k, n_rows = n, n_groups = G, sum_weights = sum(wg),
  n_rows_replicated = nrow(rep_dat), n_groups_replicated = sum(wg),
  data_file = paste0(case, ".csv"),
  R_version = R.version.string,
  flexmix_version = as.character(packageVersion("flexmix")),
  seed = 1, nrep = nrep, control = FLX_CONTROL,
  design_columns = json_array(cnames),
  simulation = list(
    seed = 20240611, n_groups = G, group_sizes = "sample(2:6, 120, replace = TRUE)",
    weights = "sample(1:4, 120, replace = TRUE), one per group",
    true_prior = json_array(true_prior),
    true_coef = list(class1 = as.list(setNames(B[1, ], cnames)),
                     class2 = as.list(setNames(B[2, ], cnames))),
    true_sigma = json_array(S),
    true_class_counts_groups = json_array(as.vector(table(factor(cls, 1:2)))),
    true_class_of_group = json_array(cls)),
  best = em_json(bw, pw, ordw, sw),
  logLik_recomputed = hw$ll,
  logLik_recomputed_rel_diff = (hw$ll - ll_w) / abs(ll_w),
  logLik_flexmix_FLXlogLikfun_at_best = llfun_w(par_w),
  posterior_mean_max_groups = mean(apply(post_w, 1, max)),
  posterior_mean_max_weighted = sum(wg * apply(post_w, 1, max)) / sum(wg),
  sigma_formula_check = list(
    formula = "sigma_s = sqrt( N/(N-p) * sum_i v_is r_is^2 / sum_i v_is ), v_is = w_i * posterior, r = residuals at stored coef",
    max_rel_err_with_N_rows_unreplicated = max(abs(sig_rows / pw$sigmas - 1)),
    max_rel_err_with_N_rows_replicated = max(abs(sig_reprows / pw$sigmas - 1))),
  replicated = c(em_json(br, pr, ordr, sr), list(
    description = "flexmix fit (same formula, no weights, 50 starts, seed 1) of the data with every group repeated w times, each copy a new id")),
  replication_check = list(
    description = "flexmix's weights act as replication of whole groups: its log-likelihood function of the weighted fit (FLXlogLikfun) equals that of the replicated fit at the same parameters; the exact maxima agree. flexmix's EM fixed points do NOT agree exactly, because its sigma uses N = number of rows of the data it was given (see notes).",
    FLXlogLikfun_weighted_at_weighted_best = llfun_w(par_w),
    FLXlogLikfun_replicated_at_weighted_best = llfun_r(par_w),
    FLXlogLikfun_weighted_at_replicated_best = llfun_w(par_r),
    FLXlogLikfun_replicated_at_replicated_best = llfun_r(par_r),
    max_rel_diff_loglikfun = max(abs(llfun_w(par_w) / llfun_r(par_w) - 1),
                                 abs(llfun_w(par_r) / llfun_r(par_r) - 1),
                                 abs(llfun_w(mle_par) / llfun_r(mle_par) - 1)),
    max_abs_diff_gradlogLikfun_at_mle = max(abs(grfun_w(mle_par) - grfun_r(mle_par))),
    logLik_weighted_em = ll_w, logLik_replicated_em = ll_r,
    logLik_em_rel_diff = (ll_w - ll_r) / abs(ll_r),
    mle_logLik_weighted = mle$ll, mle_logLik_replicated = mle_rep$ll,
    mle_logLik_rel_diff = (mle$ll - mle_rep$ll) / abs(mle_rep$ll),
    weighted_logLik_at_replicated_mle = ll_w_at_mle_rep,
    mle_max_abs_param_diff = max(abs(mle_par - mle_rep_par)),
    mle_se_max_rel_diff_weighted_vs_replicated = max(abs(se_w / se_r - 1)),
    refit_logLik_weighted = llfun_w(rw@coef), refit_logLik_replicated = llfun_r(rr@coef)),
  refit = c(list(
    method = "refit(best) with flexmix's default method 'optim' on the WEIGHTED fit: BFGS on the weighted observed-data log-likelihood from the EM solution, vcov = -solve(numerical Hessian). Approximate MLE (BFGS reltol 1e-8); SEs agree with mle_by_hand's to about 1e-4 relative."),
    refit_json(rw, rse_w, ordw, llfun_w)),
  refit_replicated = refit_json(rr, rse_r, ordr, llfun_r),
  mle_by_hand = list(
    description = "NOT a flexmix output: EM written in R with the exact ML M-step for frequency weights (coefficients: weighted LS with row weights w_i * posterior; sigma_s^2 = sum_i w_i tau_is r_is^2 / sum_i w_i tau_is; pi_s = sum_i w_i tau_is / sum_i w_i), started at 'best' and iterated to max|param change| < 1e-13. Components in the order of 'best'. SEs from optimHess of flexmix's own weighted FLXlogLikfun/FLXgradlogLikfun at this point (coefficients, log(sigma), alpha = log(pi_s/pi_1)); the method is 'observed information, numerical Hessian of analytic gradient'.",
    se_method = "observed information: -solve(optimHess(mle, FLXlogLikfun(best), FLXgradlogLikfun(best))) with the weighted flexmix fit; the replicated fit's functions give the same SEs (replication_check.mle_se_max_rel_diff_weighted_vs_replicated)",
    logLik = mle$ll, logLik_flexmix_FLXlogLikfun = llfun_w(mle_par),
    em_iterations = mle$iter,
    max_abs_score_flexmix_FLXgradlogLikfun = max(abs(grfun_w(mle_par))),
    components = lapply(ordw, function(j) c(list(
      flexmix_component = j, coef = as.list(setNames(mle$coefs[[j]], cnames)),
      sigma = mle$sigmas[j], prior = mle$pri[j]), comp_se(j, se_w))),
    prior = json_array(mle$pri[ordw]),
    alpha_sorted = list(parameter = "alpha = log(pi_sorted.2 / pi_sorted.1)",
                        estimate = drop(Aw %*% mle_par), se = sqrt(drop(Aw %*% V_w %*% t(Aw))))),
  notes = list(
    "flexmix 2.3-18 'weights': integer replication weights; flexmix stops unless they are integers and identical within groups. In the EM (FLXfit) the posteriors are multiplied by the weights before the M-step, the prior is the weighted mean posterior, and the log-likelihood is sum_g w_g log(sum_s pi_s f_s(y_g)). FLXlogLikfun/FLXgradlogLikfun (used by refit) weight the same way.",
    "flexmix's Gaussian M-step sets sigma_s^2 = N/(N-p) * sum_i v_is r_is^2 / sum_i v_is with N = nrow of the data GIVEN (here the unweighted rows, n_rows), see sigma_formula_check. So the weighted fit and the replicated fit (N = n_rows_replicated) are fixed points of two slightly different modified EMs, and neither is the MLE: best.logLik and replicated.logLik differ slightly, and both are below mle_by_hand.logLik. The exact MLE of the weighted log-likelihood and of the replicated one agree (replication_check).",
    "Components of 'best', 'refit', 'mle_by_hand' are sorted by prior descending (the weighted mean posterior); 'flexmix_component' gives flexmix's own index. 'replicated' and 'refit_replicated' are sorted the same way by their own priors.",
    "logLik is the observed-data log-likelihood including -0.5 log(2 pi) constants. sum_weights = number of individuals of the replicated data (what smlcr reports as n_groups with freq_weights).",
    "The CSV holds the data exactly as fitted (17 significant digits, verified to round-trip); the script fits the data READ BACK from the CSV."
  ))
write_json(res, paste0(case, ".json"))
cat(sprintf("weighted EM logLik %.10f  replicated EM logLik %.10f  (rel %.3g)\n", ll_w, ll_r, (ll_w - ll_r) / abs(ll_r)))
cat(sprintf("FLXlogLikfun w/r at weighted best: %.12f %.12f\n", llfun_w(par_w), llfun_r(par_w)))
cat(sprintf("MLE weighted %.12f (iter %d)  replicated %.12f  max|dpar| %.3g  max se rel %.3g\n",
            mle$ll, mle$iter, mle_rep$ll, max(abs(mle_par - mle_rep_par)), max(abs(se_w / se_r - 1))))
cat(sprintf("refit logLik w %.10f r %.10f; sigma check rows %.3g reprows %.3g; postmax %.4f\n",
            llfun_w(rw@coef), llfun_r(rr@coef), max(abs(sig_rows / pw$sigmas - 1)),
            max(abs(sig_reprows / pw$sigmas - 1)), res$posterior_mean_max_groups))
