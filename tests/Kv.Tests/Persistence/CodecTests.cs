using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using CsCheck;
using Kv.Persistence;
using Kv.Storage;
using Kv.Tests.Infrastructure;

namespace Kv.Tests.Persistence;

/// <summary>Unit tests of the RDB codec pieces: CRC-64/Jones, LZF, listpack, "%.17g", stream reading/writing.</summary>
public sealed class CodecTests
{
    [Fact]
    public void Crc64CheckValue()
    {
        // The catalogue check value of CRC-64/Jones as redis uses it (crc64.c self-test).
        Assert.Equal(0xE9C6D914C4B8D9CAUL, Crc64.Compute("123456789"u8));
        // Split updates give the same result as one pass (slicing path + tail path).
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 31)).ToArray();
        ulong whole = Crc64.Compute(data);
        ulong parts = Crc64.Update(Crc64.Update(Crc64.Update(0, data.AsSpan(0, 3)), data.AsSpan(3, 500)), data.AsSpan(503));
        Assert.Equal(whole, parts);
    }

    [Fact]
    public async Task Crc64MatchesTheTrailerRedisWrites()
    {
        await using var redis = await ServerProcess.StartRedisAsync();
        using (var c = await redis.ConnectAsync())
        {
            await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
            Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
        }
        var bytes = await File.ReadAllBytesAsync(Path.Combine(redis.Dir, "dump.rdb"));
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8));
        Assert.Equal(stored, Crc64.Compute(bytes.AsSpan(0, bytes.Length - 8)));
        // And the reader accepts it, reporting the exact size consumed.
        using var ms = new MemoryStream(bytes);
        var r = new RdbReader(ms);
        int keys = 0;
        r.ReadAll(_ => keys++);
        Assert.Equal(bytes.Length, r.Position);
        Assert.Equal("7.0.15", r.GetAux("redis-ver"));
        Assert.True(keys > 30);
    }

    [Fact]
    public void LzfRoundTrips()
    {
        Gen.Byte[0, 3].Array[0, 3000].Select(a => a.Select(b => (byte)('a' + b)).ToArray())
            .Sample(input =>
            {
                var comp = new byte[input.Length + 64];
                int n = Lzf.Compress(input, comp);
                if (n == 0) return; // incompressible within the limit: stored raw by the writer
                var back = new byte[input.Length];
                Lzf.Decompress(comp.AsSpan(0, n), back);
                Assert.Equal(input, back);
            }, iter: 300);
        var repetitive = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("hello world ", 1000)));
        var buf = new byte[repetitive.Length];
        int len = Lzf.Compress(repetitive, buf);
        Assert.InRange(len, 1, repetitive.Length / 10);
    }

    [Fact]
    public void LzfRejectsMalformedInput()
    {
        var outBuf = new byte[10];
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(new byte[] { 0x20, 0x05 }, outBuf)); // back reference before start
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(new byte[] { 0x05, (byte)'a' }, outBuf)); // literal past end
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(new byte[] { 0x00, (byte)'a' }, outBuf)); // too short output
    }

    [Fact]
    public void ListpackRoundTrips()
    {
        Gen.OneOf(
                Gen.Long.Select(v => v.ToString(CultureInfo.InvariantCulture)),
                Gen.Int[-5000, 5000].Select(v => v.ToString(CultureInfo.InvariantCulture)),
                Gen.String[0, 5000])
            .List[0, 50]
            .Sample(items =>
            {
                var lp = new ListpackBuilder();
                foreach (var s in items) lp.Add(Encoding.UTF8.GetBytes(s));
                var decoded = CompactDecoders.Listpack(lp.Finish());
                Assert.Equal(items.Select(Encoding.UTF8.GetBytes), decoded);
            }, iter: 200);
    }

    [Fact]
    public async Task G17MatchesRedisScoreText()
    {
        // redis 7.0.15 replies ZSCORE with "%.17g"; our formatter must give the same text (used by DEBUG DIGEST).
        await using var redis = await ServerProcess.StartRedisAsync();
        using var c = await redis.ConnectAsync();
        var rng = new Random(99);
        var values = new List<double> { 0.1, 1.5, -3, 1e20, 1e-7, 123456789012345678, 1e17, 1e16, 0.0001, 0.00001, -2.5e-300, 1.7976931348623157e308, 5e-324, 3 };
        for (int i = 0; i < 200; i++) values.Add((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-30, 30)));
        foreach (var v in values)
        {
            var text = v.ToString("R", CultureInfo.InvariantCulture);
            await c.CommandAsync("ZADD", "z", text, "m");
            var reply = RespFormat.Text(await c.CommandAsync("ZSCORE", "z", "m"));
            Assert.Equal(reply, RdbStrings.G17(v));
        }
    }

    [Fact]
    public void WriterAndReaderRoundTripEveryType()
    {
        var list = new KvList();
        for (int i = 0; i < 5000; i++) list.AddLast(Encoding.ASCII.GetBytes(i % 2 == 0 ? i.ToString(CultureInfo.InvariantCulture) : "x" + i));
        var set = new KvSet();
        foreach (var m in new[] { "1", "2", "-3" }) set.Add(Encoding.ASCII.GetBytes(m));
        var hash = new KvHash();
        hash.Set("f"u8.ToArray(), "v"u8.ToArray());
        var zset = new KvZSet();
        zset.Set("a"u8.ToArray(), 1.5);
        zset.Set("b"u8.ToArray(), double.NegativeInfinity);
        var ms = new MemoryStream();
        var w = new RdbWriter(ms);
        w.WriteMagic();
        w.WriteDefaultAux(1, 2, new RdbReplInfo(3, new string('a', 40), 12345));
        w.WriteSelectDb(2);
        w.WriteResizeDb(5, 1);
        w.WriteKeyValue("s"u8, Encoding.ASCII.GetBytes(new string('y', 1000)), 1234567890123);
        w.WriteKeyValue("l"u8, list, -1);
        w.WriteKeyValue("set"u8, set, -1);
        w.WriteKeyValue("h"u8, hash, -1);
        w.WriteKeyValue("z"u8, zset, -1);
        w.WriteEnd();
        ms.Write("tail"u8); // bytes after the RDB (as after an EOF-framed transfer)
        ms.Position = 0;
        var r = new RdbReader(ms);
        var got = new List<RdbEntry>();
        r.ReadAll(got.Add);
        Assert.Equal(w.Length, r.Position);
        Assert.Equal("tail", Encoding.ASCII.GetString(r.Leftover.Span));
        Assert.Equal(new RdbReplInfo(3, new string('a', 40), 12345), r.ReplInfo);
        Assert.Equal(5, got.Count);
        Assert.All(got, e => Assert.Equal(2, e.Db));
        Assert.Equal(1234567890123, got[0].ExpireMs);
        Assert.Equal(list.Items(), ((KvList)got[1].Value).Items());
        Assert.Equal(set.Members().OrderBy(m => Encoding.ASCII.GetString(m)), ((KvSet)got[2].Value).Members().OrderBy(m => Encoding.ASCII.GetString(m)));
        Assert.Equal(zset.Ascending(), ((KvZSet)got[4].Value).Ascending());
    }

    [Fact]
    public void ReaderReportsTruncationWithOffset()
    {
        var ms = new MemoryStream();
        var w = new RdbWriter(ms);
        w.WriteMagic();
        w.WriteSelectDb(0);
        w.WriteKeyValue("key"u8, Encoding.ASCII.GetBytes("value"), -1);
        w.WriteEnd();
        var bytes = ms.ToArray();
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var e = Assert.Throws<RdbFormatException>(() => new RdbReader(new MemoryStream(bytes[..cut])).ReadAll(_ => { }));
            Assert.InRange(e.Offset, 0, cut);
        }
        // With a declared length the reader never reads past it, even when more bytes follow.
        var withMore = bytes.Concat(new byte[100]).ToArray();
        var r = new RdbReader(new MemoryStream(withMore), bytes.Length);
        r.ReadAll(_ => { });
        Assert.Equal(bytes.Length, r.Position);
        Assert.Equal(0, r.Leftover.Length);
    }

    [Fact]
    public void HugeDeclaredLengthsFailWithoutAllocatingThem()
    {
        var ms = new MemoryStream();
        var w = new RdbWriter(ms);
        w.WriteMagic();
        w.WriteSelectDb(0);
        w.Flush();
        // A string key of 1.5 GB of which only 10 bytes follow; the stream's length is unknown to the reader.
        ms.Write([RdbFormat.TypeString, 0x80, 0x59, 0x68, 0x2F, 0x00]);
        ms.Write(new byte[10]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<RdbFormatException>(() => new RdbReader(new MemoryStream(ms.ToArray())).ReadAll(_ => { }));
        Assert.Contains("truncated", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 200L << 20);
        // An LZF string claiming an impossible expansion is refused before allocating its output.
        var lz = new MemoryStream();
        var w2 = new RdbWriter(lz);
        w2.WriteMagic();
        w2.Flush();
        lz.Write([RdbFormat.TypeString, 0x01, (byte)'k', 0xC3, 0x02, 0x80, 0x40, 0x00, 0x00, 0x00, 0x00, 0x61]);
        var e2 = Assert.Throws<RdbFormatException>(() => new RdbReader(new MemoryStream(lz.ToArray())).ReadAll(_ => { }));
        Assert.Contains("LZF", e2.Message);
    }
}
