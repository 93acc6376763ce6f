# The paper's traces in the fine-tuning study, per seed: before fine-tuning, after the first epoch (ImageNet and random
# start), and epoch by epoch in every paper-exact run. Usage: jq -s -f docs/method-study/fine-tune-traces.jq out/fine-tune/seed*/results.json
def g: if . == null then "" else . * 1000 | round / 1000 end;
def p: . * 100 | round;
def r($a; $b): if $b == 0 or $b == null or $a == null then "" else ($a / $b | g) end;
[.[] | .settings.seed as $s |
  (.startTraces[] | {seed: $s, model, ratio: r(.minorityMedian; .majorityMedian), minorityAbove: (.minorityRecall | p), highTraceMinority: (.minorityPrecision | p)}),
  ((.paperExactSearch + [.methods[] | select(.method == "FlatDebias paper-exact, relative")])[] | .method as $m | .quantile as $q | .selectedEpoch as $sel | {seed: $s, model: "\($m) q=\($q) (selected epoch \($sel))",
     byEpoch: ([.trainingTraces[] | "\(.epoch): \(.traces.minorityRecall | p)%/\(r(.traces.minorityMedian; .traces.majorityMedian))"] | join(", ")),
     multipliers: ([.multipliers[] | "\(.epoch): \(.minorityMean | g)/\(.majorityMean | g) share \(.minorityWeightShare | p)%"] | join(", "))})]
