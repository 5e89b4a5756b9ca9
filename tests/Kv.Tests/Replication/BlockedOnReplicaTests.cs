using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Clients blocked on a writable replica (replica-read-only no) while a full sync loads a list or sorted set under
/// their keys: redis 7.0.15 loads with dbAddRDBLoad, which signals nothing, and a later push onto the existing key
/// does not signal either (dbAdd does), so they stay blocked.
/// The same scenario runs with a redis-server 7.0.15 replica (reference) and a kv replica, both fed by a real redis
/// master, and the transcripts must be equal.
/// </summary>
[Collection("replication")]
public class BlockedOnReplicaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FullSyncServesBlockedClientsLikeRedis()
    {
        var expected = await ScenarioAsync(ServerKind.Redis);
        var actual = await ScenarioAsync(ServerKind.Kv);
        foreach (var l in actual) output.WriteLine(l);
        Assert.Equal(expected, actual);
        // The sync really loaded the list the clients wait for (else the comparison shows nothing).
        Assert.Contains(expected, l => l.StartsWith("replica LRANGE q => *3", StringComparison.Ordinal));
    }

    private async Task<List<string>> ScenarioAsync(ServerKind replicaKind)
    {
        var t = new List<string>();
        await using var env = new ReplEnv(output);
        var master = await env.RedisAsync("--repl-backlog-size", "16kb");
        await ReplEnv.CmdAsync(master, "SET", "seed", "1");
        var args = new[] { "--replica-read-only", "no", "--replicaof", "127.0.0.1", master.Port.ToString(CultureInfo.InvariantCulture) };
        var r = replicaKind == ServerKind.Redis ? await env.RedisAsync(args) : await env.KvAsync(args);
        await env.WaitInSyncAsync(master, r);
        long fullBefore = await ReplEnv.InfoLongAsync(master, "stats", "sync_full");

        // Clients block on the replica (already a replica: no -UNBLOCKED from a role change).
        using var blpop = await r.ConnectAsync();
        using var bzpop = await r.ConnectAsync();
        await blpop.SendAsync("BLPOP", "q", "0");
        await bzpop.SendAsync("BZPOPMIN", "z", "0");
        await env.WaitAsync(async () => await ReplEnv.InfoLongAsync(r, "clients", "blocked_clients") == 2, "two blocked clients");

        // The link breaks, then the master writes more than its backlog holds: the replica comes back with a full
        // sync whose RDB holds the keys the clients wait for.
        ReplEnv.Pause(r);
        try
        {
            await ReplEnv.CmdAsync(master, "CLIENT", "KILL", "TYPE", "replica");
            await ReplEnv.CmdAsync(master, "RPUSH", "q", "a", "b");
            await ReplEnv.CmdAsync(master, "ZADD", "z", "1", "m");
            var filler = new string('x', 1000);
            for (int i = 0; i < 64; i++) await ReplEnv.CmdAsync(master, "SET", "fill" + i.ToString(CultureInfo.InvariantCulture), filler);
        }
        finally
        {
            ReplEnv.Resume(r);
        }
        await env.WaitAsync(async () => await ReplEnv.InfoLongAsync(master, "stats", "sync_full") > fullBefore, "a full resync");
        await env.WaitInSyncAsync(master, r);
        t.Add("BLPOP q => " + Reply(await blpop.TryReadReplyAsync(TimeSpan.FromSeconds(1))));
        t.Add("BZPOPMIN z => " + Reply(await bzpop.TryReadReplyAsync(TimeSpan.FromSeconds(1))));
        // A push onto the existing list signals nothing either (7.0 signals readiness in dbAdd only).
        await ReplEnv.CmdAsync(r, "RPUSH", "q", "local");
        t.Add("after local RPUSH, BLPOP q => " + Reply(await blpop.TryReadReplyAsync(TimeSpan.FromSeconds(5))));
        t.Add("replica LRANGE q => " + RespFormat.Escape(await ReplEnv.CmdAsync(r, "LRANGE", "q", "0", "-1")));
        return t;
    }

    private static string Reply(byte[]? r) => r is null ? "(still blocked)" : RespFormat.Escape(r);
}
