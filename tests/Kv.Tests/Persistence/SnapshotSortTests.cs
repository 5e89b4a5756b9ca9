using CsCheck;
using Kv.Persistence;

namespace Kv.Tests.Persistence;

/// <summary>The snapshot's hash-order sort (radix for large tables) against Array.Sort.</summary>
public class SnapshotSortTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(65_535)]
    [InlineData(65_536)]
    [InlineData(300_001)]
    public void SortsLikeArraySortAndKeepsPairs(int n)
    {
        var rng = new Random(n);
        var hashes = new uint[n];
        for (int i = 0; i < n; i++) hashes[i] = (uint)rng.NextInt64(0, 1L << 32) & (i % 3 == 0 ? 0xFFFF0000u : 0xFFFFFFFFu);
        var original = (uint[])hashes.Clone();
        var order = Enumerable.Range(0, n).ToArray();
        RdbSnapshot.SortByHash(hashes, order);
        var expected = (uint[])original.Clone();
        Array.Sort(expected);
        Assert.Equal(expected, hashes);
        // Every item still carries its own hash, and the permutation is complete.
        for (int i = 0; i < n; i++) Assert.Equal(original[order[i]], hashes[i]);
        Assert.Equal(n, order.Distinct().Count());
    }

    [Fact]
    public void RandomTables()
    {
        Gen.UInt.Array[65_536, 70_000].Sample(a =>
        {
            var hashes = (uint[])a.Clone();
            var order = Enumerable.Range(0, a.Length).ToArray();
            RdbSnapshot.SortByHash(hashes, order);
            for (int i = 1; i < hashes.Length; i++) if (hashes[i - 1] > hashes[i]) return false;
            for (int i = 0; i < hashes.Length; i++) if (a[order[i]] != hashes[i]) return false;
            return true;
        }, iter: 5);
    }
}
