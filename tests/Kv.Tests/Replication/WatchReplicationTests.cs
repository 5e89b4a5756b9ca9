using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// WATCH on a replica whose dataset is replaced by a full sync, or changed by a replicated FLUSHALL / SWAPDB:
/// the same script runs with a redis-server 7.0.15 replica (reference) and a kv replica, both fed by real redis
/// masters, for repl-diskless-load disabled (emptyData: keys that existed are touched) and swapdb (keys existing in
/// the old or the loaded dataset are touched); the EXEC results must match.
/// </summary>
[Collection("replication")]
public class WatchReplicationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("disabled")]
    [InlineData("swapdb")]
    public async Task WatchedKeysAreTouchedByFullSyncFlushallAndSwapdbLikeRedis(string disklessLoad)
    {
        var expected = await ScenarioAsync(ServerKind.Redis, disklessLoad);
        var actual = await ScenarioAsync(ServerKind.Kv, disklessLoad);
        for (int i = 0; i < Math.Max(expected.Count, actual.Count); i++)
        {
            var e = i < expected.Count ? expected[i] : "<missing>";
            var a = i < actual.Count ? actual[i] : "<missing>";
            output.WriteLine((e == a ? "  " : "! ") + a + (e == a ? "" : "   (redis: " + e + ")"));
        }
        Assert.Equal(expected, actual);
        // The script must have seen both outcomes, or it compared nothing interesting.
        Assert.Contains(expected, l => l.EndsWith("*-1\\r\\n", StringComparison.Ordinal));
        Assert.Contains(expected, l => l.Contains("EXEC => *1", StringComparison.Ordinal));
    }

    private async Task<List<string>> ScenarioAsync(ServerKind replicaKind, string disklessLoad)
    {
        var t = new List<string>();
        await using var env = new ReplEnv(output);
        var m1 = await env.RedisAsync();
        var m2 = await env.RedisAsync();
        foreach (var (k, v) in new[] { ("a", "1"), ("b", "1") }) await ReplEnv.CmdAsync(m1, "SET", k, v);
        foreach (var (k, v) in new[] { ("b", "2"), ("c", "2"), ("s", "x") }) await ReplEnv.CmdAsync(m2, "SET", k, v);
        var args = new[] { "--repl-diskless-load", disklessLoad, "--replicaof", "127.0.0.1", m1.Port.ToString(CultureInfo.InvariantCulture) };
        var r = replicaKind == ServerKind.Redis ? await env.RedisAsync(args) : await env.KvAsync(args);
        await env.WaitInSyncAsync(m1, r);

        async Task<RespClient> Watching(string key)
        {
            var c = await r.ConnectAsync();
            await c.CommandAsync("WATCH", key);
            await c.CommandAsync("MULTI");
            await c.CommandAsync("GET", key);
            return c;
        }

        // Full sync from another master replaces the dataset.
        var watchers = new List<(string Key, RespClient C)>();
        foreach (var k in new[] { "a", "b", "c", "zz" }) watchers.Add((k, await Watching(k)));
        t.Add("REPLICAOF m2 => " + RespFormat.Escape(await ReplEnv.CmdAsync(r, "REPLICAOF", "127.0.0.1", m2.Port.ToString(CultureInfo.InvariantCulture))));
        await env.WaitAsync(async () => (await ReplEnv.InfoAsync(r, "replication")).GetValueOrDefault("master_port") == m2.Port.ToString(CultureInfo.InvariantCulture), "switched");
        await env.WaitInSyncAsync(m2, r);
        foreach (var (k, c) in watchers)
        {
            t.Add($"full sync, watched {k}: EXEC => " + RespFormat.Escape(await c.CommandAsync("EXEC")));
            c.Dispose();
        }

        // A replicated FLUSHALL and SWAPDB touch the watched keys like local ones.
        var wb = await Watching("b");
        var wn = await Watching("nothere");
        await ReplEnv.CmdAsync(m2, "FLUSHALL");
        await env.WaitInSyncAsync(m2, r);
        t.Add("FLUSHALL, watched b: EXEC => " + RespFormat.Escape(await wb.CommandAsync("EXEC")));
        t.Add("FLUSHALL, watched nothere: EXEC => " + RespFormat.Escape(await wn.CommandAsync("EXEC")));
        wb.Dispose();
        wn.Dispose();
        await ReplEnv.CmdAsync(m2, "SET", "s", "y");
        await env.WaitInSyncAsync(m2, r);
        var ws = await Watching("s");
        await ReplEnv.CmdAsync(m2, "SWAPDB", "0", "1");
        await env.WaitInSyncAsync(m2, r);
        t.Add("SWAPDB, watched s: EXEC => " + RespFormat.Escape(await ws.CommandAsync("EXEC")));
        ws.Dispose();
        return t;
    }
}
