using System.Collections;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>A read-only list whose items are made on demand, so that a data view over many large rows
/// (e.g. 50,000 coloured images) holds only what the rows are computed from.</summary>
internal sealed class LazyRowList<T>(int count, Func<int, T> make) : IList<T>
{
    public int Count => count;

    public bool IsReadOnly => true;

    public T this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
            return make(index);
        }
        set => throw new NotSupportedException("The list is read-only.");
    }

    public IEnumerator<T> GetEnumerator()
    {
        for (int i = 0; i < count; i++) yield return make(i);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public void CopyTo(T[] array, int arrayIndex)
    {
        for (int i = 0; i < count; i++) array[arrayIndex + i] = make(i);
    }

    public int IndexOf(T item) => throw new NotSupportedException("Rows are made on demand and not searched.");

    public bool Contains(T item) => throw new NotSupportedException("Rows are made on demand and not searched.");

    public void Add(T item) => throw new NotSupportedException("The list is read-only.");

    public void Insert(int index, T item) => throw new NotSupportedException("The list is read-only.");

    public bool Remove(T item) => throw new NotSupportedException("The list is read-only.");

    public void RemoveAt(int index) => throw new NotSupportedException("The list is read-only.");

    public void Clear() => throw new NotSupportedException("The list is read-only.");
}
