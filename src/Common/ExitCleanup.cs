namespace MLNet.FlatDebias.Common;

/// <summary>
/// Disposes, when the process exits normally, the objects the library registered that own a temporary file and are still
/// alive: the graph file of every fitted model that nobody disposed (<see cref="OnnxModelFiles.CreateOwned"/>). .NET runs
/// no finalizer at exit, so without this each such model left its graph behind (a few KB for a head, 45 MB for a
/// ResNet-18). Objects are held weakly: registering keeps nothing alive.
/// </summary>
internal sealed class ExitCleanup
{
    private readonly List<WeakReference<IDisposable>> _items = [];

    /// <summary>The process's registry, run on <see cref="AppDomain.ProcessExit"/>.</summary>
    public static ExitCleanup Default { get; } = CreateDefault();

    /// <summary>How many registered objects are still alive.</summary>
    public int Count
    {
        get
        {
            lock (_items) return _items.Count(w => w.TryGetTarget(out _));
        }
    }

    /// <summary>Registers <paramref name="item"/> to be disposed at exit if it is still alive then.</summary>
    public T Register<T>(T item) where T : IDisposable
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_items)
        {
            if (_items.Count >= 64 && (_items.Count & (_items.Count - 1)) == 0) _items.RemoveAll(w => !w.TryGetTarget(out _));
            _items.Add(new WeakReference<IDisposable>(item));
        }
        return item;
    }

    /// <summary>Disposes every registered object still alive (each once; a failure is ignored: the process is ending).</summary>
    /// <returns>How many were disposed.</returns>
    public int DisposeAll()
    {
        List<IDisposable> alive;
        lock (_items)
        {
            alive = [.. _items.Select(w => w.TryGetTarget(out var d) ? d : null).OfType<IDisposable>()];
            _items.Clear();
        }
        foreach (var item in alive)
        {
            try
            {
                item.Dispose();
            }
#pragma warning disable CA1031 // at exit nothing can handle it; the next object's file still gets deleted
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
        return alive.Count;
    }

    private static ExitCleanup CreateDefault()
    {
        var cleanup = new ExitCleanup();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cleanup.DisposeAll();
        return cleanup;
    }
}
