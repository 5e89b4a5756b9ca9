namespace Kv.Storage;

/// <summary>
/// A list value: a deque of byte strings (circular buffer, O(1) push/pop at both ends, O(1) index).
/// Redis 7.0 stores lists as a quicklist of listpacks; only the observable order and OBJECT ENCODING matter here.
/// </summary>
public sealed class KvList : KvObject
{
    private byte[][] _items = new byte[4][];
    private int _head;
    private int _count;

    /// <inheritdoc />
    public override KvType Type => KvType.List;

    /// <inheritdoc />
    public override long Count => _count;

    /// <summary>Total payload bytes (for the listpack/quicklist encoding decision).</summary>
    public long Bytes { get; private set; }

    /// <summary>
    /// Always "quicklist": redis 7.0.15 creates every list as a quicklist (the listpack list encoding came in 7.2).
    /// </summary>
    public override string Encoding => "quicklist";

    /// <summary>Element at position <paramref name="index"/> (0-based from the head).</summary>
    public byte[] this[int index]
    {
        get => _items[(_head + index) & (_items.Length - 1)];
        set
        {
            ref var slot = ref _items[(_head + index) & (_items.Length - 1)];
            Bytes += value.Length - slot.Length;
            slot = value;
            Touch();
        }
    }

    private static void Touch()
    {
    }

    private void Grow()
    {
        var n = new byte[_items.Length * 2][];
        for (int i = 0; i < _count; i++) n[i] = _items[(_head + i) & (_items.Length - 1)];
        _items = n;
        _head = 0;
    }

    /// <summary>Inserts at the head (LPUSH).</summary>
    public void AddFirst(byte[] v)
    {
        if (_count == _items.Length) Grow();
        _head = (_head - 1) & (_items.Length - 1);
        _items[_head] = v;
        _count++;
        Bytes += v.Length;
        Touch();
    }

    /// <summary>Appends at the tail (RPUSH).</summary>
    public void AddLast(byte[] v)
    {
        if (_count == _items.Length) Grow();
        _items[(_head + _count) & (_items.Length - 1)] = v;
        _count++;
        Bytes += v.Length;
        Touch();
    }

    /// <summary>Removes and returns the head (LPOP).</summary>
    public byte[] RemoveFirst()
    {
        var v = _items[_head];
        _items[_head] = null!;
        _head = (_head + 1) & (_items.Length - 1);
        _count--;
        Bytes -= v.Length;
        return v;
    }

    /// <summary>Removes and returns the tail (RPOP).</summary>
    public byte[] RemoveLast()
    {
        int idx = (_head + _count - 1) & (_items.Length - 1);
        var v = _items[idx];
        _items[idx] = null!;
        _count--;
        Bytes -= v.Length;
        return v;
    }

    /// <summary>Inserts at position <paramref name="index"/> (0..Count), shifting later elements (LINSERT).</summary>
    public void Insert(int index, byte[] v)
    {
        if (index == 0) { AddFirst(v); return; }
        if (index == _count) { AddLast(v); return; }
        var all = ToList();
        all.Insert(index, v);
        Reset(all);
    }

    /// <summary>Removes the element at <paramref name="index"/>.</summary>
    public void RemoveAt(int index)
    {
        if (index == 0) { RemoveFirst(); return; }
        if (index == _count - 1) { RemoveLast(); return; }
        var all = ToList();
        all.RemoveAt(index);
        Reset(all);
    }

    /// <summary>Replaces the whole content (LREM, LTRIM).</summary>
    public void Reset(List<byte[]> items)
    {
        int cap = 4;
        while (cap < items.Count) cap <<= 1;
        _items = new byte[cap][];
        items.CopyTo(_items);
        _head = 0;
        _count = items.Count;
        long b = 0;
        foreach (var i in items) b += i.Length;
        Bytes = b;
        Touch();
    }

    /// <summary>Elements from head to tail, copied into a list.</summary>
    public List<byte[]> ToList()
    {
        var l = new List<byte[]>(_count);
        for (int i = 0; i < _count; i++) l.Add(this[i]);
        return l;
    }

    /// <summary>Elements from head to tail.</summary>
    public IEnumerable<byte[]> Items()
    {
        for (int i = 0; i < _count; i++) yield return this[i];
    }

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvList();
        c.Reset(ToList());
        return c;
    }
}
