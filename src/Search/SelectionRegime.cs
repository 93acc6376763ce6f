namespace MLNet.FlatDebias.Search;

/// <summary>How a search chooses: with validation group labels, or with none anywhere.</summary>
public enum SelectionRegime
{
    /// <summary>Epochs and draws chosen by validation worst-group accuracy; the methods that train on groups (GroupDRO,
    /// DFR, DPE) get the group column.</summary>
    Groups,

    /// <summary>No group label anywhere: epochs and draws chosen by validation worst-class accuracy; GroupDRO, DFR and DPE
    /// take the classes as groups (as SubpopBench does).</summary>
    NoGroups,
}
