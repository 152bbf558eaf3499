// Package analysis judges a canary against its baseline: the version it is
// meant to replace, measured over the same time window. JudgeStep returns
// Pass (the step may pass: the canary may take more traffic, or at the last
// step be promoted), Fail (roll it back) or Wait (the data cannot tell yet)
// with a one-sentence reason and per-check numbers. It is meant to be
// called again and again on the growing windows of a running canary.
//
// # What is compared
//
// Three checks, each against a tolerance rather than against "no
// difference", because with enough traffic any difference is significant and
// only differences users notice matter:
//
//   - error_rate: the share of 5xx responses (connection failures included)
//     may rise by MaxErrorRateIncrease percentage points (m).
//   - latency_p50 and latency_p99: each quantile may grow by at most
//     max(MaxLatencyIncrease percent, MinLatencyIncrease).
//
// Below MinRequests per version since the canary began the verdict is
// always Wait: too little data is never a pass and never a failure.
//
// # Error rate: a sequential probability ratio test
//
// The controller looks at the data every second, so the error-rate test is
// one built for repeated looks: Wald's sequential probability ratio test
// (SPRT) of "the canary fails as often as the baseline" (H₀: pc = pb)
// against "it fails 2m points more often" (H₁: pc = pb + 2m). The tolerance
// m sits in the middle of the two: a canary as good as its baseline is
// promoted and one 2m points worse is rolled back, each with probability at
// least 1 − α (α = 1 − Confidence); one exactly m worse goes either way,
// and in between the test may take longer (its indifference zone). At the
// defaults that is 1% → 1% passes, 1% → 3% fails.
//
// The statistic is the log-likelihood ratio Λ of both versions' counts with
// the baseline's unknown rate profiled out: the binomial likelihood maximised
// over pb under H₁, against the same under H₀ (the pooled rate). This is the
// SPRT with a nuisance parameter of Bartlett (1946) and Cox (1963); it needs
// no per-request history, so it is a pure function of the window's totals.
// The canary fails when Λ ≥ log(1/a) and may pass when −Λ ≥ log(1/b).
//
// Guarantees. For a known baseline rate the likelihood ratio is a
// martingale under the hypothesis it tests against, so by Ville's
// inequality the chance that it ever crosses 1/a, however often it is
// looked at and for however long, is at most a (Wald 1945; Ville 1939;
// Howard, Ramdas, McAuliffe and Sekhon 2021 for the modern "always-valid"
// reading); PValue = 1/LR is the always-valid p-value of Johari, Koomen,
// Pekelis and Walsh (2017). Profiling the baseline's rate makes this hold
// asymptotically rather than exactly; bench/ANALYSIS.md measures it on
// 1,000 simulated canaries per case at 20 req/s: an identical canary rolled
// back in 0.4% (steps [10, 50, 100]) and 0.1% ([5, 25, 50, 100]) of runs, a
// +2-point one promoted in 0.2% and 0%, against bounds of 0.5% and 1%. The
// same file has the operating characteristics: at the defaults a canary
// 0.5 points worse is rolled back about 8% of the time, one 1 point worse
// about 60%, one 1.5 points worse 97%. Unlike a
// fixed-sample test re-run on a growing sample, this does not degrade with
// the number of looks, and a canary near the tolerance does not get a new
// chance at a wrong verdict every second.
//
// Expected sample size. With α = 1%, a 1% baseline and m = 1, the SPRT needs
// on average about 500 canary requests to pass an identical canary and 350
// to fail a 1% → 3% one: minutes at 2 canary requests per second, where a
// fixed-sample test at the same confidence needed several times as many.
//
// # Steps and windows
//
// A canary of n steps below 100% is judged at each step on two windows:
// everything since the canary began (evidence accumulates across steps) and
// the current step's own traffic (so a regression that shows only at the
// step's higher weight is not diluted by the earlier steps).
//
//   - Fail wins: a failure of either window rolls back at once.
//   - Passing is judged on the canary's window. The last step, whose pass is
//     the promotion, needs every check within tolerance at Confidence. An
//     earlier step k needs error-rate odds of (1/α)^((k−1)/(n−1)) for the
//     canary — none at the first step, the full odds only at the last — and
//     no failing check; it is also held while the regression odds exceed the
//     square root of the odds that fail, so a canary half-way to failing
//     stays at its weight.
//
// The reason is exposure. The SPRT needs about the same number of canary
// requests to decide whatever the weight, so a moderate regression affects
// about as many requests whether it is judged at 10% or at 50%, but at 50%
// the decision comes five times sooner; a gross regression fails in a few
// dozen requests at the first step. Promotion, the decision that cannot be
// taken back, keeps the full confidence.
//
// α is shared as follows. Failing: the error rate gets α/2 (α/4 for the
// canary's window, α/4 shared by the step windows of steps 2..n), each
// latency check α/4 per window. Passing needs every check to pass, an
// intersection–union test at level α that needs no correction. The latency
// checks are fixed-sample tests (below) and not covered by the
// repeated-looks guarantee; their margins are wide enough that an identical
// canary does not come near them, which the simulations confirm.
//
// The windows are exact: the controller marks both versions' metrics totals
// when the canary and each step begin and subtracts the mark, so a window
// keeps growing however long the canary runs or is paused, independent of
// the metrics' per-second retention.
//
// # Latency
//
// Quantiles are compared with distribution-free confidence bounds from order
// statistics, exact at any sample size, which makes them robust on small
// samples: the rank-r observation of n lies above the q-quantile with
// probability P(Binomial(n, q) < r), whatever the latency distribution. The
// canary fails when its lower bound exceeds the tolerated limit of the
// baseline's upper bound, and passes when its upper bound is under the limit
// of the baseline's lower bound; each conclusion needs two bounds to hold, so
// each bound gets half the level. Ranks are exact; values come from the
// metrics histogram, where the observations of a bucket (6.6% wide) are
// spread evenly on a log scale. Unlike a Mann–Whitney rank test this answers
// the question asked (is p99 more than 20% or 5ms slower?), so a 2ms
// slowdown never fails however much traffic there is, while a 200ms one
// fails within a few hundred requests.
//
// # Latency on a busy machine
//
// On saturated CPUs the tail of the latency distribution is made of
// scheduling stalls shared by every process (an identical canary measured
// p99 35.7ms against 33.8ms after 30,000 requests each on a loaded 2-core
// machine). The density there is so low that the distribution-free bounds
// of p99 stay wider than the tolerance however many requests arrive (p
// within stuck around 0.03), and the check would wait forever on two
// identical versions. So a latency check that has not passed on its bounds
// passes on point estimates once each version has at least 20 observations
// beyond the quantile (2,000 requests for p99, 40 for p50), its canary
// estimate is within the limit, and nothing points to a regression (p worse
// ≥ 0.5). Failing is unchanged: it still needs evidence at the configured
// confidence, so a 200ms regression fails as fast as before, and on a quiet
// machine the bounds usually decide before this rule applies.
//
// # Compared with other tools
//
// Missing data is Wait, never Fail (Flagger counts "no data" as a failure and
// rolls back idle canaries); the canary is always compared with its baseline
// over the same window (Argo Rollouts judges thresholds on the canary alone);
// and verdicts come after hundreds of requests rather than Kayenta's minimum
// of 50 data points per metric over hours.
//
// # References
//
//   - A. Wald, Sequential tests of statistical hypotheses, Ann. Math. Statist.
//     16 (1945) 117–186.
//   - J. Ville, Étude critique de la notion de collectif, Gauthier-Villars 1939.
//   - M. S. Bartlett, The large-sample theory of sequential tests, Proc.
//     Cambridge Philos. Soc. 42 (1946) 239–244; D. R. Cox, Large sample
//     sequential tests for composite hypotheses, Sankhyā A 25 (1963) 5–12.
//   - R. Johari, P. Koomen, L. Pekelis, D. Walsh, Peeking at A/B tests: why it
//     matters, and what to do about it, KDD 2017.
//   - S. R. Howard, A. Ramdas, J. McAuliffe, J. Sekhon, Time-uniform,
//     nonparametric, nonasymptotic confidence sequences, Ann. Statist. 49
//     (2021) 1055–1080.
package analysis
