# Shared helpers for the flexmix reference cases in this folder.
# Sourced by flexmix_npreg.R, flexmix_grouped_sim.R, flexmix_nregfix.R.
# Requires only Debian packages: r-cran-flexmix (pulls r-base, nnet, lattice).
# JSON is written by hand with sprintf("%.17g") so that every double round-trips
# exactly (jsonlite caps numbers at 15 significant digits).

suppressPackageStartupMessages(library(flexmix))

FLX_CONTROL <- list(tolerance = 1e-10, iter.max = 5000, minprior = 0)

## ---------------------------------------------------------------- JSON -----
json_array <- function(x) structure(list(x), class = "json_array")

json_num <- function(v) {
  if (is.na(v)) return("null")
  if (is.infinite(v)) return(if (v > 0) "1e999" else "-1e999")
  s <- sprintf("%.17g", v)
  if (as.numeric(s) != v) stop("number does not round-trip: ", s)
  s
}
json_str <- function(s) {
  s <- gsub("\\\\", "\\\\\\\\", s)
  s <- gsub("\"", "\\\\\"", s)
  s <- gsub("\n", "\\\\n", s)
  paste0("\"", s, "\"")
}
to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1); pad0 <- strrep("  ", indent)
  scalar <- function(v) {
    if (is.na(v) && !is.character(v)) return("null")
    if (is.logical(v)) return(if (v) "true" else "false")
    if (is.numeric(v)) return(json_num(as.numeric(v)))
    if (is.na(v)) return("null")
    json_str(as.character(v))
  }
  if (inherits(x, "json_array")) {
    v <- x[[1]]
    if (is.list(v)) return(to_json(unname(v), indent))
    if (length(v) == 0) return("[]")
    return(paste0("[", paste(vapply(seq_along(v), function(i) scalar(v[[i]]), ""),
                             collapse = ", "), "]"))
  }
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(seq_along(x), function(i) to_json(x[[i]], indent + 1), "")
    if (!is.null(names(x))) {
      items <- paste0(json_str(names(x)), ": ", items)
      return(paste0("{\n", paste0(pad, items, collapse = ",\n"), "\n", pad0, "}"))
    }
    return(paste0("[\n", paste0(pad, items, collapse = ",\n"), "\n", pad0, "]"))
  }
  if (is.matrix(x)) stop("convert matrices explicitly")
  if (length(x) == 1 && is.null(names(x))) return(scalar(x))
  if (!is.null(names(x))) return(to_json(as.list(x), indent))
  to_json(json_array(x), indent)
}
write_json <- function(x, file) {
  writeLines(to_json(x), file)
  invisible(file)
}
# matrix -> {"rows": [...], "columns": [...], "values": [[row1], [row2], ...]}
mat_json <- function(m) {
  list(rows = json_array(rownames(m)), columns = json_array(colnames(m)),
       values = lapply(seq_len(nrow(m)), function(i) json_array(unname(m[i, ]))))
}

## ---------------------------------------------------------------- CSV ------
# Write numeric data with 17 significant digits, read it back, check exact
# round trip, and return the read-back data frame (this is what gets fitted).
write_data_csv <- function(df, file) {
  out <- df
  for (nm in names(out)) {
    if (is.double(out[[nm]])) out[[nm]] <- sprintf("%.17g", out[[nm]])
  }
  write.csv(out, file, row.names = FALSE, quote = FALSE)
  back <- read.csv(file)
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (nm in names(df)) stopifnot(all(as.numeric(back[[nm]]) == as.numeric(df[[nm]])))
  back
}

## ---------------------------------------------- log-likelihood by hand -----
# y: numeric n; X: n x p; gid: integer group index 1..G (per row);
# coefs: list of K coefficient vectors; sigmas: K; logprior: G x K.
ll_by_hand <- function(y, X, gid, coefs, sigmas, logprior) {
  K <- length(coefs)
  lrow <- sapply(seq_len(K), function(s)
    dnorm(y, mean = drop(X %*% coefs[[s]]), sd = sigmas[s], log = TRUE))
  lrow <- matrix(lrow, ncol = K)
  lg <- rowsum(lrow, gid, reorder = TRUE)          # G x K, group order 1..G
  lj <- lg + logprior
  m <- apply(lj, 1, max)
  llg <- m + log(rowSums(exp(lj - m)))              # log-sum-exp per group
  list(ll = sum(llg), ll_groups = llg, post = exp(lj - llg))
}
logsoftmax_rows <- function(eta) {
  m <- apply(eta, 1, max)
  eta - (m + log(rowSums(exp(eta - m))))
}

## ------------------------------------------- exact MLE EM (by hand) --------
# Plain EM with the *exact* ML M-step (sigma^2 = sum(w r^2) / sum(w)),
# multinomial-logit prior solved by full Newton each M-step.
mle_em <- function(y, X, gid, coefs, sigmas, Z = NULL, C = NULL, pri = NULL,
                   tol = 1e-13, maxit = 200000) {
  K <- length(coefs); G <- max(gid)
  logprior_of <- function() {
    if (is.null(Z)) matrix(log(pri), G, K, byrow = TRUE) else logsoftmax_rows(Z %*% C)
  }
  ll_old <- -Inf
  for (it in seq_len(maxit)) {
    e <- ll_by_hand(y, X, gid, coefs, sigmas, logprior_of())
    tau <- e$post
    old <- c(unlist(coefs), sigmas, if (is.null(Z)) pri else C)
    for (s in seq_len(K)) {
      w <- tau[gid, s]
      fit <- lm.wfit(X, y, w)
      coefs[[s]] <- fit$coefficients
      sigmas[s] <- sqrt(sum(w * (y - X %*% coefs[[s]])^2) / sum(w))
    }
    if (is.null(Z)) {
      pri <- colMeans(tau)
    } else {
      C <- multinom_newton(Z, tau, C)
    }
    new <- c(unlist(coefs), sigmas, if (is.null(Z)) pri else C)
    if (max(abs(new - old)) < tol && abs(e$ll - ll_old) < 1e-12 * abs(e$ll)) break
    ll_old <- e$ll
  }
  list(coefs = coefs, sigmas = sigmas, pri = pri, C = C, iter = it,
       ll = ll_by_hand(y, X, gid, coefs, sigmas, logprior_of())$ll)
}
# Weighted multinomial logit with soft targets tau (G x K), column 1 reference.
multinom_newton <- function(Z, tau, C, tol = 1e-14, maxit = 200) {
  K <- ncol(tau); q <- ncol(Z)
  for (it in seq_len(maxit)) {
    P <- exp(logsoftmax_rows(Z %*% C))
    g <- as.vector(crossprod(Z, tau[, -1, drop = FALSE] - P[, -1, drop = FALSE]))
    H <- matrix(0, q * (K - 1), q * (K - 1))
    for (a in 2:K) for (b in 2:K) {
      wab <- P[, a] * ((a == b) - P[, b])
      ia <- (a - 2) * q + seq_len(q); ib <- (b - 2) * q + seq_len(q)
      H[ia, ib] <- -crossprod(Z, Z * wab)
    }
    step <- solve(H, g)
    C[, -1] <- C[, -1] - matrix(step, q, K - 1)
    if (max(abs(step)) < tol) break
  }
  C
}

## ------------------------------------------------------------ driver -------
# reg_rhs: one-sided formula of the regression part (no grouping)
# conc: one-sided concomitant formula or NULL
run_case <- function(case, dat, formula, yname, reg_rhs, group_var, k, conc = NULL,
                     nrep = 50, seed = 1, extra = list(), notes = character()) {
  n <- nrow(dat)
  id <- if (is.null(group_var)) seq_len(n) else dat[[group_var]]
  gid <- match(id, unique(id))
  G <- max(gid)
  groupfirst <- !duplicated(gid)

  set.seed(seed)
  if (is.null(conc)) {
    s <- stepFlexmix(formula, data = dat, k = k, nrep = nrep, control = FLX_CONTROL,
                     drop = FALSE, verbose = FALSE)
  } else {
    s <- stepFlexmix(formula, data = dat, k = k, nrep = nrep, control = FLX_CONTROL,
                     concomitant = FLXPmultinom(conc), drop = FALSE, verbose = FALSE)
  }
  b <- s@models[[1]]
  stopifnot(b@k == k)
  start_ll <- as.vector(s@logLiks[1, ])

  ## raw (flexmix-order) parameters
  coefs <- lapply(seq_len(k), function(j) b@components[[j]][[1]]@parameters$coef)
  sigmas <- sapply(seq_len(k), function(j) b@components[[j]][[1]]@parameters$sigma)
  prior <- as.vector(b@prior)
  cnames <- names(coefs[[1]])

  ## sort order: prior (= mean posterior over groups) descending; priors equal to
  ## 1e-6 are tie-broken by the first coefficient ascending
  ord <- order(-round(prior, 6), sapply(coefs, `[`, 1))

  ## design by hand, checked against flexmix's own model matrix
  X <- model.matrix(reg_rhs, dat)
  y <- as.numeric(dat[[yname]])
  stopifnot(max(abs(X - b@model[[1]]@x)) == 0, identical(colnames(X), cnames))

  if (is.null(conc)) {
    Z <- NULL; C <- NULL
    logprior <- matrix(log(prior), G, k, byrow = TRUE)
  } else {
    Z <- model.matrix(conc, dat)[groupfirst, , drop = FALSE]
    C <- b@concomitant@coef                      # q x K, column 1 == 0
    stopifnot(max(abs(model.matrix(conc, dat) - b@concomitant@x)) == 0)
    logprior <- logsoftmax_rows(Z %*% C)
  }
  hand <- ll_by_hand(y, X, gid, coefs, sigmas, logprior)
  ll_flex <- as.numeric(logLik(b))
  ll_flex_fun <- FLXlogLikfun(b)(FLXgetParameters(b))
  post_flex <- b@posterior$scaled[groupfirst, , drop = FALSE]
  # check of the documented sigma formula, using the final posteriors as weights
  sig_formula <- sapply(seq_len(k), function(j) {
    w <- post_flex[gid, j]; r <- y - drop(X %*% coefs[[j]])
    sqrt(n / (n - ncol(X)) * sum(w * r^2) / sum(w))
  })

  comp_json <- function(j) list(
    flexmix_component = j,
    coef = as.list(coefs[[j]]), sigma = sigmas[j], prior = prior[j])

  best <- list(
    logLik = ll_flex,
    df = b@df, iter = b@iter, converged = b@converged,
    cluster_sizes_rows = json_array(as.vector(b@size[ord])),
    components = lapply(ord, comp_json),
    flexmix_component_order = json_array(ord)
  )
  if (!is.null(conc)) {
    Craw <- C; colnames(Craw) <- paste0("Comp.", seq_len(k))
    Cs <- C[, ord, drop = FALSE] - C[, ord[1]]
    colnames(Cs) <- paste0("sorted.", seq_len(k))
    best$concomitant_coef <- c(mat_json(Cs), list(
      reference = "sorted.1 (= first entry of 'components', the largest mean posterior)",
      flexmix_component_of_sorted = json_array(ord),
      parameterization = "pi_gs = exp(eta_gs) / sum_t exp(eta_gt), eta_gs = z_g' column s; column sorted.1 is identically 0"))
    best$concomitant_coef_raw_flexmix <- c(mat_json(Craw), list(
      reference = "Comp.1 (flexmix component 1; column identically 0)"))
  }

  ## ------------------------------------------------------------- refit ----
  r <- refit(b)                                  # method = "optim" (default)
  rc <- r@coef; rV <- r@vcov
  rse <- sqrt(diag(rV))
  ll_refit <- FLXlogLikfun(b)(rc)
  refit_comp <- function(j) {
    nm <- paste0("model.1_Comp.", j, "_coef.", cnames)
    ls <- paste0("model.1_Comp.", j, "_log(sigma)")
    list(flexmix_component = j,
         coef = as.list(setNames(unname(rc[nm]), cnames)),
         se = as.list(setNames(unname(rse[nm]), cnames)),
         log_sigma = unname(rc[ls]), log_sigma_se = unname(rse[ls]),
         sigma = exp(unname(rc[ls])),
         sigma_se_delta = exp(unname(rc[ls])) * unname(rse[ls]))
  }
  # concomitant re-expressed with sorted.1 as reference: linear map of the raw
  # vector (components 2..K relative to flexmix comp 1), SEs via A V A'
  cidx <- grep("^concomitant_", names(rc))
  terms <- if (is.null(conc)) "alpha" else colnames(Z)
  raw_name <- function(j, t) if (is.null(conc)) paste0("concomitant_Comp.", j, ".alpha")
                             else paste0("concomitant_Comp.", j, ".", t)
  stopifnot(all(unlist(lapply(2:k, function(j) sapply(terms, function(t) raw_name(j, t)))) %in% names(rc)))
  A <- matrix(0, (k - 1) * length(terms), length(rc)); rn <- character()
  row <- 0
  for (sidx in 2:k) for (t in terms) {
    row <- row + 1
    js <- ord[sidx]; jr <- ord[1]
    if (js != 1) A[row, match(raw_name(js, t), names(rc))] <- 1
    if (jr != 1) A[row, match(raw_name(jr, t), names(rc))] <- -1
    rn[row] <- paste0("sorted.", sidx, ".", t)
  }
  conc_est <- drop(A %*% rc); conc_se <- sqrt(diag(A %*% rV %*% t(A)))
  refit_json <- list(
    method = "optim (flexmix default: BFGS on the observed-data log-likelihood started at the EM solution, hessian = TRUE, vcov = -solve(hessian))",
    logLik_at_refit_coef = ll_refit,
    components = lapply(ord, refit_comp),
    concomitant_sorted = list(
      reference = "sorted.1",
      parameter = if (is.null(conc)) "alpha_s = log(pi_s / pi_sorted.1)" else "multinomial-logit coefficient, eta_s - eta_sorted.1",
      estimate = as.list(setNames(conc_est, rn)), se = as.list(setNames(conc_se, rn))),
    concomitant_raw_flexmix = list(
      reference = "flexmix Comp.1",
      estimate = as.list(rc[cidx]), se = as.list(rse[cidx])),
    all_coef_raw = as.list(rc), all_se_raw = as.list(rse)
  )

  ## ------------------------------------------------- exact MLE by hand ----
  mle <- mle_em(y, X, gid, coefs, sigmas, Z = Z, C = C, pri = prior)
  mle_par <- FLXgetParameters(b)
  for (j in seq_len(k)) {
    mle_par[paste0("model.1_Comp.", j, "_coef.", cnames)] <- mle$coefs[[j]]
    mle_par[paste0("model.1_Comp.", j, "_log(sigma)")] <- log(mle$sigmas[j])
  }
  if (is.null(conc)) {
    mle_par[paste0("concomitant_Comp.", 2:k, ".alpha")] <- log(mle$pri[-1] / mle$pri[1])
  } else {
    for (j in 2:k) mle_par[paste0("concomitant_Comp.", j, ".", colnames(Z))] <- mle$C[, j]
  }
  ll_mle_flex <- FLXlogLikfun(b)(mle_par)
  grad_mle <- FLXgradlogLikfun(b)(mle_par)
  H <- optimHess(mle_par, FLXlogLikfun(b), FLXgradlogLikfun(b))
  V_mle <- -solve(H); se_mle <- sqrt(diag(V_mle))
  if (is.null(conc)) {
    mle_logprior <- matrix(log(mle$pri), G, k, byrow = TRUE)
  } else mle_logprior <- logsoftmax_rows(Z %*% mle$C)
  mle_post <- ll_by_hand(y, X, gid, mle$coefs, mle$sigmas, mle_logprior)$post
  mle_comp <- function(j) {
    nm <- paste0("model.1_Comp.", j, "_coef.", cnames)
    ls <- paste0("model.1_Comp.", j, "_log(sigma)")
    list(flexmix_component = j,
         coef = as.list(mle$coefs[[j]]), sigma = mle$sigmas[j],
         prior_mean_posterior = mean(mle_post[, j]),
         se = as.list(setNames(unname(se_mle[nm]), cnames)),
         log_sigma_se = unname(se_mle[ls]),
         sigma_se_delta = mle$sigmas[j] * unname(se_mle[ls]))
  }
  mle_json <- list(
    description = "NOT a flexmix output: plain EM written in R with the exact ML M-step (sigma_s^2 = sum_i w_is r_is^2 / sum_i w_is), started at 'best' and iterated to max|param change| < 1e-13. Sorted in the same order as 'best'. SEs from optimHess of flexmix's own FLXlogLikfun/FLXgradlogLikfun at this point (log(sigma) parameterization, like refit).",
    logLik = mle$ll, logLik_flexmix_FLXlogLikfun = ll_mle_flex,
    em_iterations = mle$iter,
    max_abs_score_flexmix_FLXgradlogLikfun = max(abs(grad_mle)),
    components = lapply(ord, mle_comp),
    refit_vs_mle = list(
      logLik_refit_minus_mle = ll_refit - mle$ll,
      max_abs_param_diff = max(abs(rc - mle_par[names(rc)])),
      max_rel_se_diff = max(abs(rse / se_mle[names(rse)] - 1))))
  if (!is.null(conc)) {
    Cm <- mle$C[, ord, drop = FALSE] - mle$C[, ord[1]]
    colnames(Cm) <- paste0("sorted.", seq_len(k))
    # SEs for sorted reference via the same linear map on the flexmix parameter vector
    mle_conc_est <- drop(A %*% mle_par); mle_conc_se <- sqrt(diag(A %*% V_mle %*% t(A)))
    mle_json$concomitant_coef <- c(mat_json(Cm), list(reference = "sorted.1"))
    mle_json$concomitant_sorted_se <- as.list(setNames(mle_conc_se, rn))
  } else {
    mle_json$prior <- json_array(mle$pri[ord])
    mle_json$alpha_sorted_se <- as.list(setNames(sqrt(diag(A %*% V_mle %*% t(A))), rn))
  }

  ## ---------------------------------------------------- posterior file ----
  pf <- data.frame(id = unique(id))
  names(pf) <- if (is.null(group_var)) "row" else group_var
  for (sidx in seq_len(k)) pf[[paste0("post_sorted.", sidx)]] <- post_flex[, ord[sidx]]
  write_data_csv(pf, paste0(case, "_posterior.csv"))

  res <- c(list(
    case = case,
    formula = paste(deparse(formula), collapse = " "),
    concomitant = if (is.null(conc)) "none (constant class probabilities, FLXPconstant)"
                  else paste0("FLXPmultinom(", paste(deparse(conc), collapse = " "), ")"),
    k = k, n_rows = n, n_groups = G,
    data_file = paste0(case, ".csv"),
    posterior_file = paste0(case, "_posterior.csv"),
    R_version = R.version.string,
    flexmix_version = as.character(packageVersion("flexmix")),
    nnet_version = as.character(packageVersion("nnet")),
    seed = seed, nrep = nrep,
    control = FLX_CONTROL,
    design_columns = json_array(cnames),
    best = best,
    logLik_recomputed = hand$ll,
    logLik_recomputed_rel_diff = (hand$ll - ll_flex) / abs(ll_flex),
    logLik_flexmix_FLXlogLikfun_at_best = ll_flex_fun,
    logLik_recomputed_vs_FLXlogLikfun_rel_diff = (hand$ll - ll_flex_fun) / abs(ll_flex),
    posterior_recomputed_max_abs_diff = max(abs(hand$post[, ] - post_flex)),
    posterior_mean_max = mean(apply(post_flex, 1, max)),
    sigma_formula_check = list(
      formula = "sigma_s = sqrt( N/(N-p) * sum_i w_is r_is^2 / sum_i w_is ), N = n_rows, p = ncol(X), w = final group posteriors, r = residuals at stored coef",
      max_rel_err_vs_stored_sigma = max(abs(sig_formula / sigmas - 1))),
    start_logLiks = json_array(start_ll),
    n_starts_within_1e_6_of_best = sum(abs(start_ll - max(start_ll, na.rm = TRUE)) < 1e-6, na.rm = TRUE),
    refit = refit_json,
    mle_by_hand = mle_json), extra)
  res$notes <- as.list(c(notes, common_notes(conc)))
  write_json(res, paste0(case, ".json"))
  cat(sprintf("%s: logLik %.10f  recomputed %.10f  rel %.3g  FLXlogLikfun %.10f  refit %.10f  mle %.10f (iter %d, |grad| %.2g)  postmax %.4f\n",
              case, ll_flex, hand$ll, (hand$ll - ll_flex) / abs(ll_flex), ll_flex_fun, ll_refit,
              mle$ll, mle$iter, max(abs(grad_mle)), res$posterior_mean_max))
  invisible(list(step = s, best = b, res = res))
}

common_notes <- function(conc) c(
  "Components in 'best', 'refit' and 'mle_by_hand' are sorted by 'prior' descending (prior = flexmix's @prior = mean over groups of the final posterior); priors equal to 1e-6 are tie-broken by the first coefficient ascending. 'flexmix_component' gives flexmix's own index.",
  "flexmix's gaussian M-step (FLXMRglm, flexmix 2.3-18) sets sigma_s = sqrt( sum_i w_is r_is^2 / mean_i(w_is) / (N - p) ) with N = number of ROWS (all rows, not sum of weights) and p = rank, i.e. sigma_s^2 = N/(N-p) * sum_i w_is r_is^2 / sum_i w_is. So 'best' is the fixed point of a modified EM, not the MLE: 'best.logLik' is slightly below the maximum, and the fitted sigmas are slightly larger than the ML sigmas. Regression coefficients at that fixed point are the weighted LS solutions, so they are also not exactly the ML coefficients. For the exact MLE compare against 'mle_by_hand'.",
  "w_is for a row is the posterior of the row's group (posteriors are computed per group: class is constant within a group).",
  "logLik(best) is computed inside flexmix's last EM iteration, AFTER the M-step for the components: components are exactly the stored ones; the class probabilities used there are the prior fitted from the previous E-step posteriors, while @prior (stored here as 'prior') = colMeans of the final posteriors, one half-step later. With tolerance 1e-10 the two differ negligibly; 'logLik_recomputed' is evaluated at EXACTLY the stored numbers (coef, sigma, prior / concomitant_coef) and is the number to reproduce to 1e-9. 'logLik_flexmix_FLXlogLikfun_at_best' is flexmix's own log-likelihood function evaluated at the stored parameters (should equal logLik_recomputed to rounding).",
  "logLik is the observed-data log-likelihood: sum over groups g of log sum_s pi_gs prod_{t in g} dnorm(y_gt; x_gt' beta_s, sigma_s), including the -0.5*log(2*pi) constants.",
  "refit(best) with the default method 'optim' RE-OPTIMISES all parameters with BFGS (optim, default reltol 1e-8) starting at the EM solution, parameterized as coefficients, log(sigma_s), and concomitant parameters (constant case: alpha_s = log(pi_s/pi_1); multinomial case: logit coefficients vs flexmix comp 1). Its estimates are therefore an approximate MLE (sigma moves to the ML value), NOT the EM estimates, and only as exact as BFGS with reltol 1e-8 (see mle_by_hand.refit_vs_mle); its SEs come from -solve(numerical Hessian at that point). refit@components drops the log(sigma) rows; they are taken here from refit@coef / refit@vcov (log_sigma, log_sigma_se; sigma_se_delta = sigma * log_sigma_se).",
  "Re-expressing concomitant parameters for the sorted reference is linear (theta_s - theta_ref), so estimates and SEs in 'concomitant_sorted' are exact transformations A theta, sqrt(diag(A V A')) of flexmix's full refit vcov.",
  "start_logLiks are the final logLik of each of the nrep random starts of stepFlexmix (flexmix's random initial hard assignment), in run order.",
  "The CSV holds the data exactly as fitted (17 significant digits, verified to round-trip); the script fits the data READ BACK from the CSV. The _posterior.csv holds flexmix's final posterior per group (columns in sorted order)."
)
