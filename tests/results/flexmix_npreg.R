# Reference numbers from R flexmix: NPreg data, yn ~ x + I(x^2) | id2, K = 2.
# Run from inside tests/results/:  Rscript flexmix_npreg.R
source("flexmix_ref_common.R")

data("NPreg", package = "flexmix")
raw <- data.frame(x = NPreg$x, yn = NPreg$yn,
                  id2 = as.integer(as.character(NPreg$id2)), class = NPreg$class)
dat <- write_data_csv(raw, "flexmix_npreg.csv")   # fitted data = CSV read back

run_case("flexmix_npreg", dat,
         formula = yn ~ x + I(x^2) | id2, yname = "yn", reg_rhs = ~ x + I(x^2),
         group_var = "id2", k = 2, nrep = 50, seed = 20240601,
         extra = list(data_source = "data('NPreg', package = 'flexmix'); id2 converted from factor to integer (same grouping); 'class' is the true simulated class (not used in the fit)"),
         notes = c("NPreg grouped by id2 (50 groups of 4 rows) is almost perfectly separated: posteriors are 0/1 to machine precision and both priors are 0.5 (exactly 100 rows each), so the sort is decided by the tie-break (first coefficient ascending)."))
