using System.Globalization;
using System.Text.RegularExpressions;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Disk-framed full sync (repl-diskless-sync no): a replica that asks for a full sync while the snapshot for another
/// replica is still being written joins it ("Waiting for end of BGSAVE for SYNC", same +FULLRESYNC offset, stream
/// copied from that offset) instead of triggering a second snapshot, as redis 7.0.15's syncCommand does.
/// </summary>
[Collection("replication")]
public class SnapshotAttachTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SecondReplicaAttachesToRunningDiskSnapshot()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--repl-diskless-sync", "no", "--enable-debug-command", "yes");
        string mp = master.Port.ToString(CultureInfo.InvariantCulture);
        // Enough keys that the snapshot takes many slices (each one takes the execution lock).
        using (var c = await master.ConnectAsync())
        {
            for (int batch = 0; batch < 60; batch++)
            {
                var args = new List<string> { "MSET" };
                for (int i = 0; i < 500; i++) args.AddRange([$"k:{batch}:{i}", new string((char)('a' + i % 26), 40)]);
                await c.CommandAsync(args.ToArray());
            }
        }
        // Hold the server (DEBUG SLEEP keeps the execution lock) while both replicas start and handshake, so their
        // PSYNCs arrive together: the first starts the snapshot, the second must attach to it.
        using var sleeper = await master.ConnectAsync();
        await sleeper.SendAsync("DEBUG", "SLEEP", "2");
        await Task.Delay(100);
        var started = await Task.WhenAll(
            env.RedisAsync("--enable-debug-command", "yes", "--replicaof", "127.0.0.1", mp),
            env.RedisAsync("--enable-debug-command", "yes", "--replicaof", "127.0.0.1", mp));
        using var cts = new CancellationTokenSource();
        var writer = ReplEnv.WriterAsync(master, "w", cts.Token);
        Assert.Equal("+OK\\r\\n", RespFormat.Escape(await sleeper.ReadReplyAsync(TimeSpan.FromSeconds(20))));
        await env.WaitLinkUpAsync(started[0]);
        await env.WaitLinkUpAsync(started[1]);
        await Task.Delay(300);
        cts.Cancel();
        output.WriteLine($"writer sent {await writer} command rounds");
        await env.WaitInSyncAsync(master, started[0]);
        await env.WaitInSyncAsync(master, started[1]);

        output.WriteLine(master.LogTail(15));
        Assert.Single(Regex.Matches(master.Log, "Starting BGSAVE for SYNC"));
        Assert.Single(Regex.Matches(master.Log, "Waiting for end of BGSAVE for SYNC"));
        // Both replicas were told the same snapshot offset.
        var offsets = started.Select(r => Regex.Match(r.Log, @"Full resync from master: \w+:(\d+)").Groups[1].Value).ToArray();
        Assert.NotEqual("", offsets[0]);
        Assert.Equal(offsets[0], offsets[1]);
        // Same dataset everywhere (DEBUG DIGEST is redis's computeDatasetDigest on both implementations).
        var digest = RespFormat.Escape(await ReplEnv.CmdAsync(master, "DEBUG", "DIGEST"));
        Assert.Equal(digest, RespFormat.Escape(await ReplEnv.CmdAsync(started[0], "DEBUG", "DIGEST")));
        Assert.Equal(digest, RespFormat.Escape(await ReplEnv.CmdAsync(started[1], "DEBUG", "DIGEST")));
        var db0 = (await ReplEnv.InfoAsync(started[1], "keyspace"))["db0"];
        Assert.True(long.Parse(db0.Split(',')[0]["keys=".Length..], CultureInfo.InvariantCulture) >= 30000, db0);
    }
}
