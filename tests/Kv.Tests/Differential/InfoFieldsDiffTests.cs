using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// INFO field names and their order per section, compared with redis-server 7.0.15 (genRedisInfoString), plus the
/// keyspace avg_ttl estimate of the active expire cycle. Values differ by nature (memory, times, ids) and are not
/// compared, except avg_ttl which must track the real TTLs.
/// </summary>
public class InfoFieldsDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    /// <summary>Section title -> field names in order.</summary>
    private static List<(string Section, List<string> Fields)> Parse(string info)
    {
        var res = new List<(string, List<string>)>();
        foreach (var raw in info.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# ", StringComparison.Ordinal)) { res.Add((line[2..], [])); continue; }
            int colon = line.IndexOf(':');
            if (colon > 0) res[^1].Item2.Add(line[..colon]);
        }
        return res;
    }

    private async Task<(List<(string Section, List<string> Fields)> Redis, List<(string Section, List<string> Fields)> Kv)> InfoBoth(
        DifferentialRunner d, params string[] sections)
    {
        var (r, k) = await d.SendBothAsync(0, ["INFO", .. sections]);
        return (Parse(RespFormat.Text(r)!), Parse(RespFormat.Text(k)!));
    }

    [Theory]
    [InlineData("server")]
    [InlineData("clients")]
    [InlineData("memory")]
    [InlineData("persistence")]
    [InlineData("stats")]
    [InlineData("replication")]
    [InlineData("cpu")]
    [InlineData("modules")]
    [InlineData("cluster")]
    [InlineData("keyspace")]
    public async Task SectionFieldNamesAndOrderEqualRedis(string section)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            SET info-key v
            SET info-ttl v EX 1000
            SELECT 3
            SET other v
            SELECT 0
            """);
        var (r, k) = await InfoBoth(d, section);
        Assert.Equal(r.Select(s => s.Section), k.Select(s => s.Section));
        for (int i = 0; i < r.Count; i++)
        {
            output.WriteLine($"{r[i].Section}: redis {string.Join(",", r[i].Fields)}");
            Assert.Equal(r[i].Fields, k[i].Fields);
        }
    }

    [Fact]
    public async Task EverythingHasTheSameSectionsAndFields()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            CONFIG RESETSTAT
            SET a 1
            GET a
            INCR a
            CONFIG GET maxmemory
            LPUSH a x
            HSET h f v
            """);
        var (r, k) = await InfoBoth(d, "everything");
        Assert.Equal(r.Select(s => s.Section), k.Select(s => s.Section));
        for (int i = 0; i < r.Count; i++)
        {
            // Command and latency lines come in the command table's hash order in redis: compare as sets.
            if (r[i].Section is "Commandstats" or "Latencystats")
                Assert.Equal(r[i].Fields.Order(StringComparer.Ordinal), k[i].Fields.Order(StringComparer.Ordinal));
            else
                Assert.Equal(r[i].Fields, k[i].Fields);
        }
        var lat = RespFormat.Text((await d.SendBothAsync(0, "INFO", "latencystats")).Kv)!;
        Assert.Matches(@"latency_percentiles_usec_config\|get:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n", lat);
        // latency-tracking off empties the section on both.
        await d.RunAsync("""
            CONFIG SET latency-tracking no
            INFO latencystats
            CONFIG SET latency-tracking yes
            """);
    }

    [Fact]
    public Task ErrorStatsCountEachCodeAsRedis() => RunScript("""
        CONFIG RESETSTAT
        INFO errorstats
        GET a b
        NOSUCHCMD x
        SET s v
        LPUSH s x
        LPUSH s y
        INCR s
        MULTI
        NOSUCH
        EXEC
        MULTI
        INCR s
        LPUSH s z
        EXEC
        EXEC
        SELECT 99
        CONFIG SET nosuch 1
        INFO errorstats
        CONFIG RESETSTAT
        INFO errorstats
        """);

    private async Task RunScript(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    private static long AvgTtl(string keyspace, int db)
    {
        foreach (var line in keyspace.Split("\r\n"))
        {
            if (!line.StartsWith($"db{db}:", StringComparison.Ordinal)) continue;
            var i = line.IndexOf("avg_ttl=", StringComparison.Ordinal);
            return long.Parse(line[(i + 8)..], CultureInfo.InvariantCulture);
        }
        return -1;
    }

    [Fact]
    public async Task AvgTtlTracksTheSampledTtls()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var (_, kv) = await d.ConnectionAsync(0);
        var (redis, _) = await d.ConnectionAsync(0);
        // 200 keys with TTLs spread between 100 s and 300 s (mean 200 s) in db 5; 50 keys without TTL.
        foreach (var c in new[] { redis, kv })
        {
            await c.CommandAsync("SELECT", "5");
            for (int i = 0; i < 200; i++)
                await c.CommandAsync("SET", $"t{i}", "v", "PX", (100_000 + i * 1000).ToString(CultureInfo.InvariantCulture));
            for (int i = 0; i < 50; i++) await c.CommandAsync("SET", $"p{i}", "v");
        }
        // The estimate appears after some active-expire cycles (hz 10: one per 100 ms).
        long kvAvg = 0, redisAvg = 0;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            redisAvg = AvgTtl(RespFormat.Text(await redis.CommandAsync("INFO", "keyspace"))!, 5);
            kvAvg = AvgTtl(RespFormat.Text(await kv.CommandAsync("INFO", "keyspace"))!, 5);
            if (kvAvg > 0 && redisAvg > 0) break;
            await Task.Delay(50);
        }
        output.WriteLine($"avg_ttl: redis {redisAvg}, kv {kvAvg}");
        Assert.InRange(redisAvg, 90_000, 310_000);
        Assert.InRange(kvAvg, 90_000, 310_000);
        // Without volatile keys the estimate is reset to 0 (activeExpireCycle), as in redis.
        foreach (var c in new[] { redis, kv })
            for (int i = 0; i < 200; i++) await c.CommandAsync("PERSIST", $"t{i}");
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            redisAvg = AvgTtl(RespFormat.Text(await redis.CommandAsync("INFO", "keyspace"))!, 5);
            kvAvg = AvgTtl(RespFormat.Text(await kv.CommandAsync("INFO", "keyspace"))!, 5);
            if (kvAvg == 0 && redisAvg == 0) break;
            await Task.Delay(50);
        }
        Assert.Equal(0, redisAvg);
        Assert.Equal(0, kvAvg);
    }

    [Fact]
    public async Task AvgTtlMovesWithSwapDb()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var (redis, kv) = await d.ConnectionAsync(0);
        foreach (var c in new[] { redis, kv })
        {
            await c.CommandAsync("SELECT", "6");
            for (int i = 0; i < 20; i++) await c.CommandAsync("SET", $"s{i}", "v", "EX", "500");
        }
        long kvAvg = 0;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && kvAvg <= 0)
        {
            kvAvg = AvgTtl(RespFormat.Text(await kv.CommandAsync("INFO", "keyspace"))!, 6);
            await Task.Delay(50);
        }
        Assert.InRange(kvAvg, 400_000, 500_000);
        await d.RunAsync("""
            SWAPDB 6 7
            """);
        long moved = AvgTtl(RespFormat.Text(await kv.CommandAsync("INFO", "keyspace"))!, 7);
        Assert.InRange(moved, 400_000, 500_000);
    }
}
