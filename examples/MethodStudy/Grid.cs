namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>The study's default grid (docs/method-study.md explains each line).</summary>
internal static class Grid
{
    public static readonly string[] Default =
    [
        "erm",
        "groupdro=dro:step=0.01",
        "paper-head=flat:scope=head,est=exact,grad=full,q=0.8",
        "emp-head=flat:scope=head,est=empirical,grad=full,q=0.8",
        "emp-head-p=flat:scope=head,est=empirical,grad=p,q=0.8",
    ];
}
