using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;

namespace Kv.Tests.Persistence;

/// <summary>Shared helpers of the persistence tests: a dataset with every type and encoding, digests, polling.</summary>
internal static class PersistenceTestData
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>
    /// Commands building a dataset with every type in small (listpack/intset) and big (quicklist/hashtable/skiplist)
    /// encodings, integer-encodable and LZF-compressible strings, binary keys, TTLs and several databases.
    /// </summary>
    public static List<byte[][]> RichDataset()
    {
        var cmds = new List<byte[][]>();
        void C(params object[] args) => cmds.Add(args.Select(a => a as byte[] ?? B(Convert.ToString(a, CultureInfo.InvariantCulture)!)).ToArray());
        var rng = new Random(1234);
        string Rand(int n) { var sb = new StringBuilder(); for (int i = 0; i < n; i++) sb.Append((char)('a' + rng.Next(26))); return sb.ToString(); }

        C("SELECT", 0);
        C("SET", "s1", "hello");
        C("SET", "int8", "-5");
        C("SET", "int16", "12345");
        C("SET", "int32", "-2000000000");
        C("SET", "int64", "123456789012345");
        C("SET", "notint", "007");
        C("SET", "float", "3.14");
        C("SET", "empty", "");
        C("SET", "lzf", new string('a', 300));
        C("SET", "lzfmix", string.Concat(Enumerable.Repeat("hello world ", 100)));
        C("SET", "random", Rand(500));
        C("SET", new byte[] { 0, 1, 2, 0xFF, 0xFE, (byte)'k' }, new byte[] { 0xC3, 0, 0x80, 0xFF });
        C("SET", "ttl:str", "x", "PX", 100000000);
        C("SET", "big", new string('z', 70000));
        C("RPUSH", "l:small", "a", "b", "3", "-7", "100000", "", "12345678901");
        var lbig = new List<object> { "RPUSH", "l:big" };
        for (int i = 0; i < 3000; i++) lbig.Add(i % 3 == 0 ? i.ToString(CultureInfo.InvariantCulture) : "item-" + i);
        C(lbig.ToArray());
        C("RPUSH", "l:huge", new string('q', 10000), "tiny", Rand(9000), new string('r', 20000));
        C("LPUSH", "l:ttl", "x", "y");
        C("PEXPIRE", "l:ttl", 90000000);
        C("SADD", "set:int", "1", "2", "3", "-100", "70000", "-5000000000");
        C("SADD", "set:str", "a", "b", "c", "hello world");
        var sbig = new List<object> { "SADD", "set:big" };
        for (int i = 0; i < 1000; i++) sbig.Add(i * 7);
        C(sbig.ToArray());
        var sbigs = new List<object> { "SADD", "set:bigstr" };
        for (int i = 0; i < 300; i++) sbigs.Add("m" + i);
        C(sbigs.ToArray());
        C("HSET", "h:small", "f1", "v1", "f2", "2", "num", "-300000", "empty", "");
        var hbig = new List<object> { "HSET", "h:big" };
        for (int i = 0; i < 200; i++) { hbig.Add("field" + i); hbig.Add(i % 2 == 0 ? "v" + i : (i * 1000).ToString(CultureInfo.InvariantCulture)); }
        C(hbig.ToArray());
        C("HSET", "h:longval", "f", new string('w', 100));
        C("HSET", "h:ttl", "a", "b");
        C("EXPIRE", "h:ttl", 80000);
        C("ZADD", "z:small", "1.5", "a", "2", "b", "-3", "c", "0.1", "d", "1e-7", "e", "1e20", "f", "inf", "g", "-inf", "h", "0", "i", "-0.5", "j", "3.141592653589793", "k");
        var zbig = new List<object> { "ZADD", "z:big" };
        for (int i = 0; i < 200; i++) { zbig.Add((i * 1.25 - 50).ToString("R", CultureInfo.InvariantCulture)); zbig.Add("member" + i); }
        C(zbig.ToArray());
        C("ZADD", "z:longmember", "1", new string('m', 100), "2", "short");
        C("ZADD", "z:ttl", "5", "five");
        C("PEXPIREAT", "z:ttl", 4102444800000L);
        C("SELECT", 3);
        C("SET", "indb3", "yes");
        C("HSET", "h3", "a", string.Concat(Enumerable.Repeat("xyz", 100)));
        C("RPUSH", "l3", "1", "2", "3");
        C("SELECT", 15);
        C("SADD", "s15", "only", "in", "db15");
        C("SET", "ttl15", "v", "EX", 500000);
        C("SELECT", 0);
        return cmds;
    }

    /// <summary>Sends commands pipelined and checks that none failed.</summary>
    public static async Task RunAsync(RespClient c, IReadOnlyList<byte[][]> cmds)
    {
        const int chunk = 500;
        for (int i = 0; i < cmds.Count; i += chunk)
        {
            var part = cmds.Skip(i).Take(chunk).ToList();
            var buf = new List<byte>();
            foreach (var cmd in part) buf.AddRange(RespFormat.MultiBulk(cmd));
            await c.SendRawAsync(buf.ToArray());
            for (int k = 0; k < part.Count; k++)
            {
                var r = await c.ReadReplyAsync(TimeSpan.FromSeconds(30));
                Assert.False(r[0] == (byte)'-', $"command {Encoding.UTF8.GetString(part[k][0])} failed: {RespFormat.Escape(r)}");
            }
        }
    }

    public static async Task<string> DigestAsync(ServerProcess s)
    {
        using var c = await s.ConnectAsync();
        var r = await c.CommandAsync("DEBUG", "DIGEST");
        return RespFormat.Text(r) ?? throw new InvalidOperationException("DEBUG DIGEST failed: " + RespFormat.Escape(r));
    }

    public static async Task<string> InfoFieldAsync(RespClient c, string field)
    {
        var info = RespFormat.Text(await c.CommandAsync("INFO", "persistence")) ?? "";
        foreach (var line in info.Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        throw new InvalidOperationException($"INFO has no {field}: {info}");
    }

    public static async Task WaitBgsaveDoneAsync(RespClient c, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (await InfoFieldAsync(c, "rdb_bgsave_in_progress") != "0")
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("BGSAVE did not finish");
            await Task.Delay(20);
        }
    }

    /// <summary>A fresh temp folder holding a copy of <paramref name="dumpPath"/> as dump.rdb.</summary>
    public static string CopyDumpToNewDir(string dumpPath)
    {
        var dir = Directory.CreateTempSubdirectory("kvtest-rdb-").FullName;
        File.Copy(dumpPath, Path.Combine(dir, "dump.rdb"));
        return dir;
    }

    public static void DeleteDir(string dir)
    {
        try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Every key of every database with a readable rendering of its type, value and TTL presence.</summary>
    public static async Task<SortedDictionary<string, string>> DumpValuesAsync(ServerProcess s)
    {
        using var c = await s.ConnectAsync();
        var res = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var db in new[] { 0, 3, 15 })
        {
            await c.CommandAsync("SELECT", db.ToString(CultureInfo.InvariantCulture));
            var keys = RespFormat.Elements(await c.CommandAsync("KEYS", "*"))!;
            foreach (var frame in keys)
            {
                // Elements are whole reply frames ("$3\r\nkey\r\n"): the key is the bulk's payload.
                var k = BulkPayload(frame);
                var type = RespFormat.Text(await c.CommandAsync([B("TYPE"), k]))!;
                string v = type switch
                {
                    "string" => RespFormat.Escape(await c.CommandAsync([B("GET"), k])),
                    "list" => RespFormat.Escape(await c.CommandAsync([B("LRANGE"), k, B("0"), B("-1")])),
                    "set" => string.Join(",", RespFormat.Elements(await c.CommandAsync([B("SMEMBERS"), k]))!.Select(m => RespFormat.Escape(m)).OrderBy(x => x, StringComparer.Ordinal)),
                    "hash" => string.Join(",", Pairs(RespFormat.Elements(await c.CommandAsync([B("HGETALL"), k]))!).OrderBy(x => x, StringComparer.Ordinal)),
                    "zset" => RespFormat.Escape(await c.CommandAsync([B("ZRANGE"), k, B("0"), B("-1"), B("WITHSCORES")])),
                    _ => type,
                };
                long pttl = RespFormat.Integer(await c.CommandAsync([B("PTTL"), k])) ?? -3;
                res[$"{db}/{RespFormat.Escape(k)}"] = $"{type} ttl={(pttl < 0 ? pttl.ToString(CultureInfo.InvariantCulture) : "yes")} {v}";
            }
        }
        return res;
    }

    /// <summary>The payload of a bulk string frame.</summary>
    public static byte[] BulkPayload(byte[] frame)
    {
        int nl = Array.IndexOf(frame, (byte)'\n');
        if (frame.Length == 0 || frame[0] != (byte)'$' || nl < 2) throw new FormatException("not a bulk string: " + RespFormat.Escape(frame));
        int len = int.Parse(Encoding.ASCII.GetString(frame, 1, nl - 2), CultureInfo.InvariantCulture);
        return frame.AsSpan(nl + 1, len).ToArray();
    }

    private static IEnumerable<string> Pairs(List<byte[]> flat)
    {
        for (int i = 0; i + 1 < flat.Count; i += 2) yield return RespFormat.Escape(flat[i]) + "=" + RespFormat.Escape(flat[i + 1]);
    }
}
