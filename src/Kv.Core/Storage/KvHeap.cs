namespace Kv.Storage;

/// <summary>
/// Allocation of keys and string values that commands store in the keyspace. They go to the pinned object heap
/// (<see cref="GC.AllocateUninitializedArray{T}(int, bool)"/> with <c>pinned: true</c>), which is collected only with
/// generation 2 and never moves: a stored value lives until it is overwritten or deleted, so in the young generations
/// it was nearly always a survivor, and every gen0/gen1 collection copied all the values written since the previous
/// one while the server stood still. Measured with 1,000,000 keys under <c>redis-benchmark -t set -P 16 -r 1000000</c>:
/// GC pauses 2-5 ms instead of 460-660 ms per 2,000,000 SETs, RSS no higher (263 vs 264-273 MB), requests/s and CPU
/// no worse; used_memory, which counts garbage until a collection, ran higher (166 vs 123-128 MB) since garbage on this
/// heap waits for a gen2 collection (docs/BENCHMARKS.md). Redis has no collector; this keeps kv's pauses near none.
/// Arrays from here are immutable once stored, like every stored string.
/// </summary>
public static class KvHeap
{
    /// <summary>A new array of <paramref name="length"/> bytes for the keyspace (contents undefined).</summary>
    public static byte[] Alloc(int length) =>
        length == 0 ? [] : GC.AllocateUninitializedArray<byte>(length, pinned: true);

    /// <summary>A new zero-filled array of <paramref name="length"/> bytes for the keyspace (SETRANGE's padding).</summary>
    public static byte[] AllocZeroed(int length) =>
        length == 0 ? [] : GC.AllocateArray<byte>(length, pinned: true);

    /// <summary>The decimal text of <paramref name="value"/> as a keyspace string (INCR and friends).</summary>
    public static byte[] FromLong(long value)
    {
        Span<byte> tmp = stackalloc byte[20];
        value.TryFormat(tmp, out int w, default, System.Globalization.CultureInfo.InvariantCulture);
        return Copy(tmp[..w]);
    }

    /// <summary>A keyspace copy of <paramref name="data"/>.</summary>
    public static byte[] Copy(ReadOnlySpan<byte> data)
    {
        var a = Alloc(data.Length);
        data.CopyTo(a);
        return a;
    }
}
