// Package analysis judges a canary against its baseline: the version it is
// meant to replace, measured over the same time window. Judge returns Pass
// (the canary may take more traffic), Fail (roll it back) or Wait (the data
// cannot tell yet) with a one-sentence reason and per-check numbers.
//
// # What is compared
//
// Three checks, each against a tolerance margin rather than against "no
// difference", because with enough traffic any difference is significant and
// only differences users notice matter:
//
//   - error_rate: the share of 5xx responses (connection failures included)
//     may rise by at most MaxErrorRateIncrease percentage points.
//   - latency_p50 and latency_p99: each quantile may grow by at most
//     max(MaxLatencyIncrease percent, MinLatencyIncrease).
//
// A check fails only on evidence, at the configured confidence, that the
// canary is worse than the baseline by more than the margin (a one-sided
// test of H0: canary ≤ baseline + margin), and passes only on evidence at
// the same confidence that it is not (H0: canary > baseline + margin, a
// non-inferiority test). Otherwise it waits. The checks share 1−Confidence
// for failing (Bonferroni), so a canary as good as its baseline is failed
// with probability below 1−Confidence per judgement; passing needs every
// check to pass, an intersection–union test that needs no correction.
// Below MinRequests per version the verdict is always Wait.
//
// # Error rate
//
// The difference of two binomial proportions is tested with the
// skewness-corrected asymptotic score statistic (Miettinen–Nurminen score
// with Gart–Nam's skewness correction, the "SCAS" method of Laud, 2017). The
// variance comes from the maximum-likelihood fit on the margin boundary, so
// zero errors on either side is handled, and the skewness correction keeps
// the one-sided error rate close to nominal with a few errors in a hundred
// requests: exact enumeration in errorrate_test.go shows within ~15% of the
// nominal level at 100–1,000 canary requests where the uncorrected score
// test is 1.5–2.4 times too eager to fail. Wald intervals (zero width with
// zero errors), Wilson/Newcombe intervals (anti-conservative one-sided near
// zero) and exact unconditional tests (cost grows with the product of the
// sample sizes) were the alternatives.
//
// # Latency
//
// Quantiles are compared with distribution-free confidence bounds from order
// statistics: the rank-r observation of n lies above the q-quantile with
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
// # Repeated judgements
//
// Confidence holds for one judgement. A controller that judges the growing
// sample of one step again and again gives a canary whose true difference
// sits right at a tolerance several chances at either verdict (about 5% each
// over an hour of per-second judgements, see bench/ANALYSIS.md); canaries
// clearly inside or outside the tolerance are unaffected, because their
// p-values move steadily one way. Judging every few seconds rather than on
// every request keeps this small.
//
// # Compared with other tools
//
// Missing data is Wait, never Fail (Flagger counts "no data" as a failure and
// rolls back idle canaries); the canary is always compared with its baseline
// over the same window (Argo Rollouts judges thresholds on the canary alone);
// and verdicts come after hundreds of requests rather than Kayenta's minimum
// of 50 data points per metric over hours.
package analysis
