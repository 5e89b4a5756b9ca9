using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Replication interop matrix against the real redis-server 7.0.15 on loopback: full sync in both framings and both
/// directions, kv -> kv, chains, partial resync after a killed link, backlog overflow, promotion through replid2.
/// Keyspaces are compared whole (every db, type, value, absolute expire time) after each step.
/// </summary>
[Collection("replication")]
public class ReplicationInteropTests(ITestOutputHelper output)
{
    private static async Task WriteMixedAsync(ServerProcess master)
    {
        using var c = await master.ConnectAsync();
        await c.CommandAsync("SET", "after1", "v");
        await c.CommandAsync("SELECT", "2");
        await c.CommandAsync("INCR", "c");
        await c.CommandAsync("SELECT", "0");
        await c.CommandAsync("SET", "ex1", "v", "EX", "500");
        await c.CommandAsync("INCRBYFLOAT", "fl", "1.5");
        await c.CommandAsync("MULTI");
        await c.CommandAsync("SET", "a", "1");
        await c.CommandAsync("SELECT", "3");
        await c.CommandAsync("SET", "b", "2");
        await c.CommandAsync("RPUSH", "l3", "x", "y");
        await c.CommandAsync("EXEC");
        await c.CommandAsync("HSET", "h3", "f", "v");
        await c.CommandAsync("EXPIRE", "h3", "300");
        await c.CommandAsync("SADD", "s3", "a", "b", "c");
        await c.CommandAsync("SREM", "s3", "b");
        await c.CommandAsync("ZADD", "z3", "2", "two", "1", "one");
        await c.CommandAsync("DEL", "z3x");
        await c.CommandAsync("LPOP", "l3");
        // A command bigger than several buffer blocks (blocks are 16-64 KiB).
        await c.CommandAsync("SET", "big", new string('B', 300 * 1024));
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public async Task RealMasterToKvReplica(string diskless)
    {
        await using var env = new ReplEnv(output);
        var master = await env.RedisAsync("--repl-diskless-sync", diskless);
        await ReplEnv.PopulateAsync(master, "pre");
        var replica = await env.KvAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitLinkUpAsync(replica);
        await env.AssertSameDataAsync(master, replica);
        await WriteMixedAsync(master);
        await ReplEnv.CmdAsync(master, "EVAL", "redis.call('set','e1','1'); redis.call('set','e2','2')", "0");
        await env.WaitInSyncAsync(master, replica);
        await env.AssertSameDataAsync(master, replica);
        // Replica is read-only, and ROLE/INFO tell the truth.
        Assert.StartsWith("READONLY", await ReplEnv.TextAsync(replica, "SET", "x", "1"));
        var role = RespFormat.Elements(await ReplEnv.CmdAsync(replica, "ROLE"))!;
        Assert.Equal("slave", RespFormat.Text(role[0]));
        Assert.Equal("connected", RespFormat.Text(role[3]));
        var mi = await ReplEnv.InfoAsync(master, "replication");
        var ri = await ReplEnv.InfoAsync(replica, "replication");
        Assert.Equal(mi["master_replid"], ri["master_replid"]);
        Assert.Equal(mi["master_repl_offset"], ri["master_repl_offset"]);
        Assert.Equal("1", (await ReplEnv.InfoAsync(master, "stats"))["sync_full"]);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public async Task KvMasterToRealReplica(string diskless)
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--repl-diskless-sync", diskless);
        await ReplEnv.PopulateAsync(master, "pre");
        var replica = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitLinkUpAsync(replica);
        await env.AssertSameDataAsync(master, replica);
        await WriteMixedAsync(master);
        await env.WaitInSyncAsync(master, replica);
        await env.AssertSameDataAsync(master, replica);
        Assert.Contains(diskless == "yes" ? "EOF" : "to disk", replica.Log);
        var mi = await ReplEnv.InfoAsync(master, "replication");
        var ri = await ReplEnv.InfoAsync(replica, "replication");
        Assert.Equal(mi["master_replid"], ri["master_replid"]);
        Assert.Matches(@"slave0:ip=127\.0\.0\.1,port=\d+,state=online,offset=\d+,lag=\d", string.Join("\n", mi.Select(kv => kv.Key + ":" + kv.Value)));
        // ROLE lists the online replica with bulk port and offset.
        var role = RespFormat.Elements(await ReplEnv.CmdAsync(master, "ROLE"))!;
        Assert.Equal("master", RespFormat.Text(role[0]));
        var listed = RespFormat.Elements(role[2])!;
        Assert.Single(listed);
        Assert.Equal(replica.Port.ToString(), RespFormat.Text(RespFormat.Elements(listed[0])![1]));
    }

    [Fact]
    public async Task AuthenticatedMasterWithMasterauth()
    {
        await using var env = new ReplEnv(output);
        var master = await env.RedisAsync("--requirepass", "s3cret");
        var replica = await env.KvAsync("--masterauth", "s3cret", "--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitAsync(async () =>
        {
            using var c = await master.ConnectAsync();
            await c.CommandAsync("AUTH", "s3cret");
            var info = RespFormat.Text(await c.CommandAsync("INFO", "replication")) ?? "";
            return info.Contains("state=online");
        }, "kv replica authenticated and online");
        using (var c = await master.ConnectAsync())
        {
            await c.CommandAsync("AUTH", "s3cret");
            await c.CommandAsync("SET", "secret-key", "1");
        }
        await env.WaitAsync(async () => await ReplEnv.TextAsync(replica, "GET", "secret-key") == "1", "write replicated");
    }

    [Fact]
    public async Task KvToKvAndChainRealKvReal()
    {
        await using var env = new ReplEnv(output);
        var top = await env.RedisAsync();
        await ReplEnv.PopulateAsync(top, "pre", 100);
        var mid = await env.KvAsync("--replicaof", "127.0.0.1", top.Port.ToString());
        await env.WaitLinkUpAsync(mid);
        var leaf = await env.RedisAsync("--replicaof", "127.0.0.1", mid.Port.ToString());
        var kvLeaf = await env.KvAsync("--replicaof", "127.0.0.1", mid.Port.ToString());
        await env.WaitLinkUpAsync(leaf);
        await env.WaitLinkUpAsync(kvLeaf);
        await WriteMixedAsync(top);
        await env.WaitInSyncAsync(top, mid);
        await env.WaitInSyncAsync(mid, leaf);
        await env.WaitInSyncAsync(mid, kvLeaf);
        await env.AssertSameDataAsync(top, mid);
        await env.AssertSameDataAsync(top, leaf);
        await env.AssertSameDataAsync(top, kvLeaf);
        // The chain proxies exact bytes: same replid and offsets down the chain.
        var t = await ReplEnv.InfoAsync(top, "replication");
        var l = await ReplEnv.InfoAsync(leaf, "replication");
        var k = await ReplEnv.InfoAsync(kvLeaf, "replication");
        Assert.Equal(t["master_replid"], l["master_replid"]);
        Assert.Equal(t["master_repl_offset"], l["master_repl_offset"]);
        Assert.Equal(t["master_repl_offset"], k["master_repl_offset"]);
    }

    [Fact]
    public async Task KilledLinkUnderLoadResyncsPartially()
    {
        await using var env = new ReplEnv(output);
        // Real master -> kv replica: the kv replica must PSYNC from its cached master.
        var master = await env.RedisAsync();
        var replica = await env.KvAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        // kv master -> real replica: the real replica must be accepted with +CONTINUE by kv.
        var kvMaster = await env.KvAsync();
        var realReplica = await env.RedisAsync("--replicaof", "127.0.0.1", kvMaster.Port.ToString());
        await env.WaitLinkUpAsync(replica);
        await env.WaitLinkUpAsync(realReplica);
        using var cts = new CancellationTokenSource();
        var w1 = ReplEnv.WriterAsync(master, "w", cts.Token);
        var w2 = ReplEnv.WriterAsync(kvMaster, "w", cts.Token);
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(400);
            await ReplEnv.CmdAsync(master, "CLIENT", "KILL", "TYPE", "replica");
            await ReplEnv.CmdAsync(realReplica, "CLIENT", "KILL", "TYPE", "master");
            await Task.Delay(300);
        }
        await Task.Delay(500);
        cts.Cancel();
        Assert.True(await w1 > 0);
        Assert.True(await w2 > 0);
        await env.WaitInSyncAsync(master, replica);
        await env.WaitInSyncAsync(kvMaster, realReplica);
        await env.AssertSameDataAsync(master, replica);
        await env.AssertSameDataAsync(kvMaster, realReplica);
        var ms = await ReplEnv.InfoAsync(master, "stats");
        var ks = await ReplEnv.InfoAsync(kvMaster, "stats");
        output.WriteLine($"redis master: full={ms["sync_full"]} ok={ms["sync_partial_ok"]}; kv master: full={ks["sync_full"]} ok={ks["sync_partial_ok"]}");
        Assert.Equal("1", ms["sync_full"]);
        Assert.True(long.Parse(ms["sync_partial_ok"]) >= 2);
        Assert.Equal("1", ks["sync_full"]);
        Assert.True(long.Parse(ks["sync_partial_ok"]) >= 2);
        Assert.Equal("0", ks["sync_partial_err"]);
    }

    [Fact]
    public async Task MoreWritesThanBacklogForcesFullResync()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--repl-backlog-size", "16kb");
        var replica = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitLinkUpAsync(replica);
        await ReplEnv.CmdAsync(master, "SET", "before", "1");
        await env.WaitInSyncAsync(master, replica);
        // Disconnect the replica, write 4x the backlog, let it come back: PSYNC fails for lack of backlog.
        ReplEnv.Pause(replica);
        await ReplEnv.CmdAsync(master, "CLIENT", "KILL", "TYPE", "replica");
        using (var c = await master.ConnectAsync())
            for (int i = 0; i < 64; i++) await c.CommandAsync("SET", "big" + i, new string('z', 1024));
        ReplEnv.Resume(replica);
        await env.WaitAsync(async () => (await ReplEnv.InfoAsync(master, "stats"))["sync_full"] == "2", "second full sync");
        await env.WaitInSyncAsync(master, replica);
        await env.AssertSameDataAsync(master, replica);
        var st = await ReplEnv.InfoAsync(master, "stats");
        Assert.Equal("1", st["sync_partial_err"]);
        Assert.Equal("0", st["sync_partial_ok"]);
    }

    [Fact]
    public async Task BacklogTtlFreesBacklogAndChangesReplid()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--repl-backlog-ttl", "1");
        var replica = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitInSyncAsync(master, replica);
        var before = await ReplEnv.InfoAsync(master, "replication");
        Assert.Equal("1", before["repl_backlog_active"]);
        await ReplEnv.CmdAsync(replica, "REPLICAOF", "NO", "ONE");
        await env.WaitAsync(async () => (await ReplEnv.InfoAsync(master, "replication"))["repl_backlog_active"] == "0", "backlog freed after ttl", 8000);
        var after = await ReplEnv.InfoAsync(master, "replication");
        Assert.NotEqual(before["master_replid"], after["master_replid"]);
        Assert.Equal("0", (await ReplEnv.InfoAsync(master, "memory"))["mem_total_replication_buffers"]);
    }

    [Fact]
    public async Task PromotionThenOldMasterReattachesThroughReplid2()
    {
        await using var env = new ReplEnv(output);
        // A (redis) -> B (kv); promote B; A becomes B's replica: B accepts A's PSYNC via replid2.
        var a = await env.RedisAsync();
        await ReplEnv.PopulateAsync(a, "p", 50);
        var b = await env.KvAsync("--replicaof", "127.0.0.1", a.Port.ToString());
        await env.WaitInSyncAsync(a, b);
        var before = await ReplEnv.InfoAsync(b, "replication");
        Assert.Equal("OK", await ReplEnv.TextAsync(b, "REPLICAOF", "NO", "ONE"));
        var promoted = await ReplEnv.InfoAsync(b, "replication");
        Assert.Equal("master", promoted["role"]);
        Assert.Equal(before["master_replid"], promoted["master_replid2"]);
        Assert.NotEqual(before["master_replid"], promoted["master_replid"]);
        Assert.Equal((long.Parse(before["master_repl_offset"]) + 1).ToString(), promoted["second_repl_offset"]);
        await ReplEnv.CmdAsync(b, "SET", "after-promotion", "1");
        await ReplEnv.CmdAsync(a, "REPLICAOF", "127.0.0.1", b.Port.ToString());
        await env.WaitInSyncAsync(b, a);
        await env.AssertSameDataAsync(a, b);
        var bs = await ReplEnv.InfoAsync(b, "stats");
        Assert.Equal("0", bs["sync_full"]);
        Assert.Equal("1", bs["sync_partial_ok"]);

        // Now the other way: C (kv master) -> D (redis); promote D; C re-attaches to D with its own history.
        var c = await env.KvAsync();
        await ReplEnv.PopulateAsync(c, "q", 50);
        var d = await env.RedisAsync("--replicaof", "127.0.0.1", c.Port.ToString());
        await env.WaitInSyncAsync(c, d);
        await ReplEnv.CmdAsync(d, "REPLICAOF", "NO", "ONE");
        await ReplEnv.CmdAsync(d, "SET", "after-promotion", "2");
        await ReplEnv.CmdAsync(c, "REPLICAOF", "127.0.0.1", d.Port.ToString());
        await env.WaitInSyncAsync(d, c);
        await env.AssertSameDataAsync(c, d);
        var ds = await ReplEnv.InfoAsync(d, "stats");
        Assert.Equal("0", ds["sync_full"]);
        Assert.Equal("1", ds["sync_partial_ok"]);
        Assert.Contains("Successful partial resynchronization", c.Log);
    }

    [Fact]
    public async Task WaitCountsAcknowledgedReplicas()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync();
        var r1 = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        var r2 = await env.KvAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitLinkUpAsync(r1);
        await env.WaitLinkUpAsync(r2);
        await env.WaitAsync(async () => (await ReplEnv.InfoAsync(master, "replication")).GetValueOrDefault("slave1", "").Contains("online"), "2 online");
        using var c = await master.ConnectAsync();
        // A connection that never wrote: WAIT returns the online count at once.
        Assert.Equal(2, RespFormat.Integer(await c.CommandAsync("WAIT", "5", "100")));
        await c.CommandAsync("SET", "k", "v");
        Assert.Equal(2, RespFormat.Integer(await c.CommandAsync("WAIT", "2", "5000")));
        // Asking for more replicas than exist times out with the count that acknowledged.
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await c.CommandAsync("SET", "k", "v2");
        Assert.Equal(2, RespFormat.Integer(await c.CommandAsync("WAIT", "3", "600")));
        Assert.InRange(sw.ElapsedMilliseconds, 500, 5000);
        // With one replica paused only one acknowledges.
        ReplEnv.Pause(r1);
        await c.CommandAsync("SET", "k", "v3");
        Assert.Equal(1, RespFormat.Integer(await c.CommandAsync("WAIT", "2", "700")));
        ReplEnv.Resume(r1);
        Assert.StartsWith("ERR WAIT cannot be used with replica instances", await ReplEnv.TextAsync(r2, "WAIT", "1", "0"));
        // Inside MULTI/EXEC, WAIT never blocks: it answers the current count.
        await c.CommandAsync("MULTI");
        await c.CommandAsync("WAIT", "5", "0");
        var exec = RespFormat.Elements(await c.CommandAsync("EXEC"))!;
        Assert.Single(exec);
        Assert.NotNull(RespFormat.Integer(exec[0]));
    }

    [Fact]
    public async Task MinReplicasToWrite()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--min-replicas-to-write", "1", "--min-replicas-max-lag", "2");
        Assert.Equal("NOREPLICAS Not enough good replicas to write.", await ReplEnv.TextAsync(master, "SET", "k", "v"));
        Assert.Equal("0", (await ReplEnv.InfoAsync(master, "replication"))["min_slaves_good_slaves"]);
        var r = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitLinkUpAsync(r);
        await env.WaitAsync(async () => await ReplEnv.TextAsync(master, "SET", "k", "v") == "OK", "writes accepted with a good replica");
        ReplEnv.Pause(r);
        await env.WaitAsync(async () => (await ReplEnv.TextAsync(master, "SET", "probe", "x")).StartsWith("NOREPLICAS"), "NOREPLICAS after lag", 10000);
        Assert.StartsWith("NOREPLICAS", await ReplEnv.TextAsync(master, "SET", "k", "v2"));
        Assert.Equal("v", await ReplEnv.TextAsync(master, "GET", "k")); // reads still work
        ReplEnv.Resume(r);
        await env.WaitAsync(async () => await ReplEnv.TextAsync(master, "SET", "k", "v3") == "OK", "writes accepted again");
    }

    [Fact]
    public async Task ReplicaOverOutputBufferLimitIsDroppedAndReconnects()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--repl-backlog-size", "16kb", "--client-output-buffer-limit", "replica", "64kb", "32kb", "1");
        var replica = await env.RedisAsync("--replicaof", "127.0.0.1", master.Port.ToString());
        await env.WaitInSyncAsync(master, replica);
        ReplEnv.Pause(replica);
        using (var c = await master.ConnectAsync())
            for (int i = 0; i < 300; i++) await c.CommandAsync("SET", "big" + i, new string((char)(97 + i % 26), 64 * 1024));
        await env.WaitAsync(() => Task.FromResult(master.Log.Contains("overcoming of output buffer limits")), "COB drop log line");
        Assert.Equal("0", (await ReplEnv.InfoAsync(master, "replication"))["connected_slaves"]);
        Assert.Equal("PONG", await ReplEnv.TextAsync(master, "PING")); // nothing else disturbed
        ReplEnv.Resume(replica);
        await env.WaitInSyncAsync(master, replica);
        await env.AssertSameDataAsync(master, replica);
    }
}

/// <summary>Restart and persistence-related replication behaviour (RDB aux fields repl-id/repl-offset/repl-stream-db).</summary>
[Collection("replication")]
public class ReplicationRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RestartedReplicaResyncsPartiallyFromRdbAuxFields()
    {
        await using var env = new ReplEnv(output);
        var master = await env.RedisAsync();
        await ReplEnv.PopulateAsync(master, "r", 60);
        var dir = Directory.CreateTempSubdirectory("kvtest-kvrepl-restart-").FullName;
        try
        {
            var args = new[] { "--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", master.Port.ToString() };
            var replica = await env.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir, Args = args });
            await env.WaitInSyncAsync(master, replica);
            using (var c = await master.ConnectAsync())
            {
                await c.CommandAsync("SELECT", "4");
                await c.CommandAsync("SET", "in-db-4", "1");
            }
            await env.WaitInSyncAsync(master, replica);
            Assert.Equal("OK", await ReplEnv.TextAsync(replica, "SAVE"));
            await replica.DisposeAsync(); // SIGKILL: only the saved RDB survives
            // Writes while the replica is down, some in the db the stream had selected (no SELECT re-sent).
            using (var c = await master.ConnectAsync())
            {
                await c.CommandAsync("SELECT", "4");
                await c.CommandAsync("SET", "while-down", "1");
            }
            var restarted = await env.StartAsync(ServerKind.Kv, new ServerStartOptions { Dir = dir, Args = args });
            await env.WaitInSyncAsync(master, restarted);
            await env.AssertSameDataAsync(master, restarted);
            var st = await ReplEnv.InfoAsync(master, "stats");
            Assert.Equal("1", st["sync_full"]);
            Assert.Equal("1", st["sync_partial_ok"]);
            Assert.Contains("Trying a partial resynchronization", restarted.Log);
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
