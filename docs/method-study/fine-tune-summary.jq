def mean: add / length;
def sd: if length < 2 then 0 else (mean) as $m | (map((. - $m) * (. - $m)) | add / (length - 1)) | sqrt end;
def f: . * 10 | round / 10;
[.[] | .settings.seed as $s | (.methods[] | select(.method == "ERM") | (.epochSeconds | sort | .[length/2|floor])) as $erm
  | .methods[] | . + {seed: $s, cost: ((.epochSeconds | sort | .[length/2|floor]) / $erm)}]
| group_by(.method) | map({
    method: .[0].method,
    seeds: length,
    average: ([.[].testAverageAccuracy * 100] | "\(mean|f) ± \(sd|f)"),
    adjusted: ([.[].testAdjustedAverageAccuracy * 100] | "\(mean|f) ± \(sd|f)"),
    worst: ([.[].testWorstGroupAccuracy * 100] | "\(mean|f) ± \(sd|f)"),
    perSeed: ([.[] | "\(.seed): \(.testWorstGroupAccuracy * 100 | f) (ep \(.selectedEpoch)\(if .quantile then ", q \(.quantile)" else "" end))"] | join(" / ")),
    valWorst: ([.[].validationWorstGroupAccuracy * 100] | "\(mean|f)"),
    cost: ([.[].cost] | "\(min * 100 | round / 100)-\(max * 100 | round / 100)x")
  })
