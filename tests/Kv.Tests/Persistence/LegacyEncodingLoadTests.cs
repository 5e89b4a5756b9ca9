using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Persistence;

/// <summary>
/// Loading of the encodings redis 7.0.15 reads but no longer writes (RDB version 9: ziplist hashes, sorted sets and
/// lists, quicklist v1, zipmap, intsets wider than needed) and of listpack/intset edge cases (every integer width,
/// long strings, limits that force a conversion): the same hand-built dump is loaded by redis-server 7.0.15 and by
/// kv-server and both keyspaces (DEBUG DIGEST, values, OBJECT ENCODING) are compared. Also: a dump with a key twice
/// is refused by both, kv naming the key.
/// </summary>
public sealed class LegacyEncodingLoadTests(ITestOutputHelper output)
{
    private static readonly string[] Debug = ["--enable-debug-command", "yes"];
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    // ---- a minimal RDB writer for the test (formats from rdb.h, ziplist.c, zipmap.c, intset.c, listpack.c) ----

    private static void Len(List<byte> o, long n)
    {
        if (n < 64) o.Add((byte)n);
        else if (n < 16384) { o.Add((byte)(0x40 | (n >> 8))); o.Add((byte)n); }
        else { o.Add(0x80); var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, (uint)n); o.AddRange(b); }
    }

    private static void Str(List<byte> o, byte[] s)
    {
        Len(o, s.Length);
        o.AddRange(s);
    }

    /// <summary>A ziplist of the given entries: integers (canonical text) use the integer encodings, as ziplistPush.</summary>
    private static byte[] Ziplist(IEnumerable<string> items)
    {
        var body = new List<byte>();
        int prevLen = 0, tail = 10;
        foreach (var it in items)
        {
            var e = new List<byte>();
            if (prevLen < 254) e.Add((byte)prevLen);
            else { e.Add(0xFE); var p = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(p, prevLen); e.AddRange(p); }
            if (long.TryParse(it, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v.ToString(CultureInfo.InvariantCulture) == it)
            {
                if (v >= 0 && v <= 12) e.Add((byte)(0xF1 + v));
                else if (v >= sbyte.MinValue && v <= sbyte.MaxValue) { e.Add(0xFE); e.Add((byte)(sbyte)v); }
                else if (v >= short.MinValue && v <= short.MaxValue) { e.Add(0xC0); var b = new byte[2]; BinaryPrimitives.WriteInt16LittleEndian(b, (short)v); e.AddRange(b); }
                else if (v >= -(1 << 23) && v < (1 << 23)) { e.Add(0xF0); e.Add((byte)v); e.Add((byte)(v >> 8)); e.Add((byte)(v >> 16)); }
                else if (v >= int.MinValue && v <= int.MaxValue) { e.Add(0xD0); var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); e.AddRange(b); }
                else { e.Add(0xE0); var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); e.AddRange(b); }
            }
            else
            {
                var s = B(it);
                if (s.Length < 64) e.Add((byte)s.Length);
                else if (s.Length < 16384) { e.Add((byte)(0x40 | (s.Length >> 8))); e.Add((byte)s.Length); }
                else { e.Add(0x80); var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, (uint)s.Length); e.AddRange(b); }
                e.AddRange(s);
            }
            tail = 10 + body.Count;
            body.AddRange(e);
            prevLen = e.Count;
        }
        int count = body.Count == 0 ? 0 : items.Count();
        var zl = new byte[10 + body.Count + 1];
        BinaryPrimitives.WriteUInt32LittleEndian(zl, (uint)zl.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(zl.AsSpan(4), (uint)tail);
        BinaryPrimitives.WriteUInt16LittleEndian(zl.AsSpan(8), (ushort)Math.Min(count, 65535));
        body.CopyTo(zl, 10);
        zl[^1] = 0xFF;
        return zl;
    }

    private static byte[] Zipmap(params (string F, string V)[] pairs)
    {
        var o = new List<byte> { (byte)Math.Min(pairs.Length, 254) };
        void L(int n)
        {
            if (n < 254) o.Add((byte)n);
            else { o.Add(254); var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)n); o.AddRange(b); }
        }
        foreach (var (f, v) in pairs)
        {
            L(B(f).Length);
            o.AddRange(B(f));
            L(B(v).Length);
            o.Add(0); // free
            o.AddRange(B(v));
        }
        o.Add(0xFF);
        return o.ToArray();
    }

    private static byte[] Intset(int width, params long[] sorted)
    {
        var b = new byte[8 + width * sorted.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)width);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)sorted.Length);
        for (int i = 0; i < sorted.Length; i++)
        {
            var s = b.AsSpan(8 + i * width);
            if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(s, (short)sorted[i]);
            else if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(s, (int)sorted[i]);
            else BinaryPrimitives.WriteInt64LittleEndian(s, sorted[i]);
        }
        return b;
    }

    private static List<byte> Header(int version)
    {
        var o = new List<byte>(B("REDIS" + version.ToString("D4", CultureInfo.InvariantCulture)));
        o.Add(0xFE); // SELECTDB 0
        Len(o, 0);
        return o;
    }

    private static byte[] Finish(List<byte> o)
    {
        o.Add(0xFF);
        o.AddRange(new byte[8]); // checksum 0: not verified (redis and kv)
        return o.ToArray();
    }

    private static void Key(List<byte> o, byte type, string key, byte[] blob)
    {
        o.Add(type);
        Str(o, B(key));
        Str(o, blob);
    }

    private static byte[] LegacyDump()
    {
        var o = Header(9);
        string[] ints = ["0", "12", "13", "-1", "127", "-128", "128", "32767", "-32768", "32768", "8388607", "-8388608", "8388608", "2147483647", "-2147483648", "2147483648", "9223372036854775807", "-9223372036854775808"];
        // Ziplist list (type 10) with every integer width and string lengths around the 6/14-bit limits.
        Key(o, 10, "zl:list", Ziplist(ints.Concat(["a", "", new string('s', 63), new string('t', 64), new string('u', 300), "007", "+5", "1.5"])));
        Key(o, 10, "zl:list:empty", Ziplist([]));
        // Ziplist hash (13) and sorted set (12).
        Key(o, 13, "zl:hash", Ziplist(["f1", "v1", "n", "-300000", "big", "9223372036854775807", "e", ""]));
        Key(o, 13, "zl:hash:long", Ziplist(["f", new string('w', 100), "g", "1"]));
        Key(o, 12, "zl:zset", Ziplist(["a", "-2.5", "b", "0", "c", "1", "d", "3.5", "e", "1e+20", "f", "inf"]));
        Key(o, 12, "zl:zset:long", Ziplist([new string('m', 90), "1", "x", "2"]));
        // Quicklist v1 (14): two ziplist nodes; and a long one over the list's packed limit.
        o.Add(14);
        Str(o, B("ql:list"));
        Len(o, 2);
        Str(o, Ziplist(["a", "1", "b"]));
        Str(o, Ziplist(["-70000", "c", new string('z', 70)]));
        o.Add(14);
        Str(o, B("ql:big"));
        Len(o, 3);
        for (int n = 0; n < 3; n++) Str(o, Ziplist(Enumerable.Range(n * 100, 100).Select(i => i % 3 == 0 ? i.ToString(CultureInfo.InvariantCulture) : "item-" + i)));
        // Zipmap hash (9).
        Key(o, 9, "zm:hash", Zipmap(("a", "1"), ("bb", "hello"), ("long", new string('v', 300))));
        // Intsets (11): narrowest width, wider than needed, mixed widths, over the 512 limit.
        Key(o, 11, "is:16", Intset(2, -5, 0, 7, 32767));
        Key(o, 11, "is:wide", Intset(8, -3, 1, 2, 100));
        Key(o, 11, "is:32", Intset(4, -2147483648, 5, 70000));
        Key(o, 11, "is:64", Intset(8, long.MinValue, -1, long.MaxValue));
        Key(o, 11, "is:big", Intset(2, Enumerable.Range(0, 600).Select(i => (long)i * 3).ToArray()));
        // Ziplist hash over 512 fields: converted to a hashtable by both.
        Key(o, 13, "zl:hash:big", Ziplist(Enumerable.Range(0, 600).SelectMany(i => new[] { "f" + i, (i * 7).ToString(CultureInfo.InvariantCulture) })));
        return Finish(o);
    }

    private static byte[] Listpack(IEnumerable<string> items)
    {
        var lp = new Kv.Persistence.ListpackBuilder();
        foreach (var it in items) lp.Add(B(it));
        return lp.Finish().ToArray();
    }

    /// <summary>RDB 10 listpack hashes and sorted sets (what 7.0.15 writes) with elements past the default 64-byte limit.</summary>
    private static byte[] ListpackDump()
    {
        var o = Header(10);
        Key(o, 16, "lp:hash:long", Listpack(["f", new string('w', 100), "g", "1", new string('k', 200), "x"]));
        Key(o, 16, "lp:hash", Listpack(["a", "1", "b", "-70000", "c", "hello"]));
        Key(o, 17, "lp:zset:long", Listpack(["a", "1", new string('m', 90), "2.5", "z", "3"]));
        Key(o, 17, "lp:zset", Listpack(["a", "-1", "b", "0", "c", "1e+300"]));
        Key(o, 16, "lp:hash:big", Listpack(Enumerable.Range(0, 520).SelectMany(i => new[] { "f" + i, "v" + i })));
        Key(o, 17, "lp:zset:big", Listpack(Enumerable.Range(0, 130).SelectMany(i => new[] { "m" + i, i.ToString(CultureInfo.InvariantCulture) })));
        return Finish(o);
    }

    private static async Task<SortedDictionary<string, string>> EncodingsAsync(ServerProcess s)
    {
        using var c = await s.ConnectAsync();
        var res = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var frame in RespFormat.Elements(await c.CommandAsync("KEYS", "*"))!)
        {
            var k = PersistenceTestData.BulkPayload(frame);
            res[Encoding.UTF8.GetString(k)] = RespFormat.Text(await c.CommandAsync([B("OBJECT"), B("ENCODING"), k])) ?? "(missing)";
        }
        return res;
    }

    private async Task LoadBothAndCompare(byte[] dump, int keys)
    {
        var dir = Directory.CreateTempSubdirectory("kvtest-legacy-").FullName;
        var dir2 = Directory.CreateTempSubdirectory("kvtest-legacy-").FullName;
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, "dump.rdb"), dump);
            await File.WriteAllBytesAsync(Path.Combine(dir2, "dump.rdb"), dump);
            await using var redis = await ServerProcess.StartAsync(ServerKind.Redis, new ServerStartOptions { Dir = dir, Args = Debug });
            await using var kv = await ServerProcess.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir2, Args = Debug });
            var expected = await PersistenceTestData.DumpValuesAsync(redis);
            var actual = await PersistenceTestData.DumpValuesAsync(kv);
            Assert.True(expected.Count == keys, $"redis loaded {expected.Count} keys");
            Assert.DoesNotContain(expected.Values, v => v.StartsWith("none", StringComparison.Ordinal));
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var k in expected.Keys) Assert.True(expected[k] == actual[k], $"{k}: redis {expected[k]} kv {actual[k]}");
            Assert.Equal(await PersistenceTestData.DigestAsync(redis), await PersistenceTestData.DigestAsync(kv));
            var encRedis = await EncodingsAsync(redis);
            var encKv = await EncodingsAsync(kv);
            var wrong = encRedis.Keys.Where(k => encRedis[k] != encKv.GetValueOrDefault(k)).Select(k => $"{k}: OBJECT ENCODING redis {encRedis[k]} kv {encKv.GetValueOrDefault(k)}").ToList();
            Assert.True(wrong.Count == 0, string.Join("; ", wrong));
            output.WriteLine($"{expected.Count} keys identical: {string.Join(", ", encRedis.Select(e => e.Key + "=" + e.Value))}");
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
            PersistenceTestData.DeleteDir(dir2);
        }
    }

    [Fact]
    public Task LegacyEncodingsLoadAsInRedis() => LoadBothAndCompare(LegacyDump(), 14);

    [Fact]
    public Task ListpackElementsPastTheLimitsLoadAsInRedis() => LoadBothAndCompare(ListpackDump(), 6);

    [Fact]
    public async Task RedisDumpOfEveryTypeLoadsWithRedisEncodings()
    {
        byte[] dump;
        await using (var redis = await ServerProcess.StartRedisAsync(Debug))
        {
            using var c = await redis.ConnectAsync();
            await PersistenceTestData.RunAsync(c, PersistenceTestData.RichDataset());
            Assert.Equal("OK", RespFormat.Text(await c.CommandAsync("SAVE")));
            dump = await File.ReadAllBytesAsync(Path.Combine(redis.Dir, "dump.rdb"));
        }
        // The keys of database 0 (the others are compared by value in RdbRoundTripTests).
        await LoadBothAndCompare(dump, 35);
    }

    [Fact]
    public async Task DuplicateKeyIsRefusedByBoth()
    {
        var o = Header(10);
        foreach (var k in new[] { "a", "dup", "b", "dup" })
        {
            o.Add(0);
            Str(o, B(k));
            Str(o, B("v"));
        }
        var dump = Finish(o);
        var dir = Directory.CreateTempSubdirectory("kvtest-dupkey-").FullName;
        try
        {
            var path = Path.Combine(dir, "dump.rdb");
            await File.WriteAllBytesAsync(path, dump);
            var (redisExit, _) = await ServerProcess.RunToExitAsync(ServerKind.Redis,
                ["--port", ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--dir", dir, "--logfile", ""], TimeSpan.FromSeconds(30), dir);
            Assert.NotEqual(0, redisExit);
            var (exit, log) = await ServerProcess.RunToExitAsync(ServerKind.Kv,
                ["--port", ServerProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--dir", dir], TimeSpan.FromSeconds(30), dir);
            output.WriteLine(log);
            Assert.Equal(1, exit);
            Assert.Contains("duplicate key 'dup' in database 0", log);
            Assert.Equal(dump, await File.ReadAllBytesAsync(path));
        }
        finally
        {
            PersistenceTestData.DeleteDir(dir);
        }
    }
}
