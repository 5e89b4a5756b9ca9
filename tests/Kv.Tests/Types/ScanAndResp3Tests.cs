using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Full HSCAN/SSCAN/ZSCAN iterations over hashtable/skiplist values, and RESP3 reply shapes.</summary>
public class ScanAndResp3Tests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private static async Task<List<string>> ScanAllAsync(RespClient c, string cmd, string key, bool pairs, string? match = null)
    {
        var seen = new List<string>();
        string cursor = "0";
        int rounds = 0;
        do
        {
            var args = new List<string> { cmd, key, cursor, "COUNT", "7" };
            if (match is not null) { args.Add("MATCH"); args.Add(match); }
            var reply = await c.CommandAsync(args.ToArray());
            var top = RespFormat.Elements(reply)!;
            cursor = RespFormat.Text(top[0])!;
            var items = RespFormat.Elements(top[1])!.Select(e => RespFormat.Text(e)!).ToList();
            if (pairs) for (int i = 0; i < items.Count; i += 2) seen.Add(items[i] + "=" + items[i + 1]);
            else seen.AddRange(items);
            Assert.True(++rounds < 10000);
        } while (cursor != "0");
        return seen.Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task FullScansReturnEveryElement()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var sb = new StringBuilder();
        sb.AppendLine("HSET h " + string.Join(' ', Enumerable.Range(0, 700).Select(i => $"field{i} val{i}")));
        sb.AppendLine("SADD s " + string.Join(' ', Enumerable.Range(0, 700).Select(i => $"mem{i}")));
        sb.AppendLine("ZADD z " + string.Join(' ', Enumerable.Range(0, 300).Select(i => $"{i * 0.5} zm{i}")));
        sb.AppendLine("OBJECT ENCODING h").AppendLine("OBJECT ENCODING s").AppendLine("OBJECT ENCODING z");
        await d.RunAsync(sb.ToString());
        var (r, k) = await d.ConnectionAsync(0);
        foreach (var (cmd, key, pairs, match) in new[] { ("HSCAN", "h", true, (string?)null), ("SSCAN", "s", false, null), ("ZSCAN", "z", true, null), ("HSCAN", "h", true, "field1*"), ("SSCAN", "s", false, "*9"), ("ZSCAN", "z", true, "zm2?") })
        {
            var a = await ScanAllAsync(r, cmd, key, pairs, match);
            var b = await ScanAllAsync(k, cmd, key, pairs, match);
            Assert.Equal(a, b);
            Assert.NotEmpty(a);
        }
    }

    [Fact]
    public async Task Resp3SortedSetShapes()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            !skip HELLO 3
            ZADD z 1 a 2.5 b 3 c
            ZADD z2 2 b 4 d
            ZRANGE z 0 -1 WITHSCORES
            ZRANGE z 0 -1
            ZRANGEBYSCORE z 1 3 WITHSCORES LIMIT 1 1
            ZREVRANGE z 0 0 WITHSCORES
            ZRANGE z (1 +inf BYSCORE REV WITHSCORES
            ZUNION 2 z z2 WITHSCORES
            ZINTER 2 z z2 WITHSCORES
            ZDIFF 2 z z2 WITHSCORES
            ZRANDMEMBER z 5 WITHSCORES
            ZMSCORE z a nope
            ZSCORE z b
            ZINCRBY z 0.5 a
            ZPOPMIN z 2
            ZPOPMAX z 0
            ZPOPMAX nozset 2
            ZPOPMIN nozset
            ZSCAN z2 0
            SADD s 3 1 2
            SMEMBERS s
            SINTER s s
            SUNION s
            SDIFF s nos
            SPOP s 5
            SPOP nos 1
            SMISMEMBER nos a
            HSET h a 1
            HGETALL h
            HRANDFIELD h 1 WITHVALUES
            HRANDFIELD nohash 2 WITHVALUES
            RPUSH l a
            LPOP l 5
            LPOP l 5
            LRANGE l 0 -1
            """);
    }
}

/// <summary>COPY (KvObject.Clone) of every representation, then the source changes: the copy must not.</summary>
public class CopyTypesTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    [Fact]
    public async Task CopiesAreIndependent()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var bigList = string.Join(' ', Enumerable.Range(0, 200).Select(i => "e" + i));
        var bigZ = string.Join(' ', Enumerable.Range(0, 200).Select(i => $"{i} z{i}"));
        await d.RunAsync($"""
            RPUSH l a b c
            RPUSH bl {bigList}
            HSET h a 1 b 2
            SADD si 1 2 3
            SADD ss a b c
            ZADD z 1 a 2 b
            ZADD bz {bigZ}
            COPY l l2
            COPY bl bl2
            COPY h h2
            COPY si si2
            COPY ss ss2
            COPY z z2
            COPY bz bz2
            RPUSH l d
            LPOP bl 5
            HSET h c 3
            SADD si 4
            SREM ss a
            ZADD z 3 c
            ZREMRANGEBYRANK bz 0 9
            LRANGE l2 0 -1
            LRANGE bl2 0 9
            LLEN bl2
            HGETALL h2
            SMEMBERS si2
            SCARD ss2
            SISMEMBER ss2 a
            ZRANGE z2 0 -1 WITHSCORES
            ZRANGE bz2 0 4 WITHSCORES
            ZCARD bz2
            OBJECT ENCODING bz2
            OBJECT ENCODING ss2
            """);
    }
}
