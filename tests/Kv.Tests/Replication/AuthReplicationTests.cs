using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Replication through authentication: masterauth (requirepass) and masteruser + masterauth (an ACL user) of a kv
/// replica against a real redis-server 7.0.15 master, and a real redis replica against a kv master with
/// requirepass. Wrong credentials or an ACL user without +psync keep the link down.
/// </summary>
[Collection("replication")]
public class AuthReplicationTests(ITestOutputHelper output)
{
    private static string P(ServerProcess s) => s.Port.ToString(CultureInfo.InvariantCulture);

    private static async Task<string> AuthCmd(ServerProcess s, string pw, params string[] args)
    {
        using var c = await s.ConnectAsync();
        Assert.Equal("+OK\\r\\n", RespFormat.Escape(await c.CommandAsync("AUTH", pw)));
        return RespFormat.Escape(await c.CommandAsync(args));
    }

    private static async Task WriteAsync(ServerProcess s, string pw, string prefix)
    {
        using var c = await s.ConnectAsync();
        await c.CommandAsync("AUTH", pw);
        for (int i = 0; i < 20; i++)
        {
            await c.CommandAsync("SET", $"{prefix}:s{i}", "v" + i);
            await c.CommandAsync("RPUSH", $"{prefix}:l", i.ToString(CultureInfo.InvariantCulture));
            await c.CommandAsync("HSET", $"{prefix}:h", "f" + i, "x");
        }
    }

    private async Task AssertLinkStaysDownAsync(ServerProcess replica, string logText)
    {
        await Task.Delay(2500);
        var info = await ReplEnv.InfoAsync(replica, "replication");
        Assert.Equal("down", info["master_link_status"]);
        output.WriteLine(replica.LogTail(8));
        Assert.Contains(logText, replica.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KvReplicaAuthenticatesToRedisMasterWithMasterauthAndMasteruser()
    {
        await using var env = new ReplEnv(output);
        var master = await env.RedisAsync("--requirepass", "secret");
        Assert.Equal("+OK\\r\\n", await AuthCmd(master, "secret", "ACL", "SETUSER", "repl", "on", ">replpw", "+psync", "+replconf", "+ping"));
        Assert.Equal("+OK\\r\\n", await AuthCmd(master, "secret", "ACL", "SETUSER", "norepl", "on", ">nopw", "+replconf", "+ping"));
        await WriteAsync(master, "secret", "a");

        // requirepass only: AUTH <masterauth>.
        var byPass = await env.KvAsync("--masterauth", "secret", "--replicaof", "127.0.0.1", P(master));
        // ACL user: AUTH <masteruser> <masterauth>.
        var byUser = await env.KvAsync("--masteruser", "repl", "--masterauth", "replpw", "--replicaof", "127.0.0.1", P(master));
        // Wrong password and a user that may not PSYNC: the link never comes up.
        var wrong = await env.KvAsync("--masterauth", "nope", "--replicaof", "127.0.0.1", P(master));
        var noPsync = await env.KvAsync("--masteruser", "norepl", "--masterauth", "nopw", "--replicaof", "127.0.0.1", P(master));
        await env.WaitLinkUpAsync(byPass);
        await env.WaitLinkUpAsync(byUser);
        await WriteAsync(master, "secret", "b");
        await Task.WhenAll(AssertLinkStaysDownAsync(wrong, "Unable to AUTH to MASTER"), AssertLinkStaysDownAsync(noPsync, "NOPERM"));
        Assert.Empty(await ReplEnv.DumpAsync(wrong));

        // Drop the password so the whole-keyspace helpers can read the master; the established links stay up.
        Assert.Equal("+OK\\r\\n", await AuthCmd(master, "secret", "CONFIG", "SET", "requirepass", ""));
        await env.WaitInSyncAsync(master, byPass);
        await env.WaitInSyncAsync(master, byUser);
        await env.AssertSameDataAsync(master, byPass);
        await env.AssertSameDataAsync(master, byUser);
        var clients = RespFormat.Text(await ReplEnv.CmdAsync(master, "CLIENT", "LIST")) ?? "";
        Assert.Contains("user=repl", clients, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedisReplicaAuthenticatesToKvMasterWithRequirepass()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync("--requirepass", "secret");
        await WriteAsync(master, "secret", "a");
        var byPass = await env.RedisAsync("--masterauth", "secret", "--replicaof", "127.0.0.1", P(master));
        var byDefaultUser = await env.RedisAsync("--masteruser", "default", "--masterauth", "secret", "--replicaof", "127.0.0.1", P(master));
        var wrong = await env.RedisAsync("--masterauth", "nope", "--replicaof", "127.0.0.1", P(master));
        await env.WaitLinkUpAsync(byPass);
        await env.WaitLinkUpAsync(byDefaultUser);
        await WriteAsync(master, "secret", "b");
        await AssertLinkStaysDownAsync(wrong, "Unable to AUTH to MASTER");
        Assert.Equal("+OK\\r\\n", await AuthCmd(master, "secret", "CONFIG", "SET", "requirepass", ""));
        await env.WaitInSyncAsync(master, byPass);
        await env.WaitInSyncAsync(master, byDefaultUser);
        await env.AssertSameDataAsync(master, byPass);
        await env.AssertSameDataAsync(master, byDefaultUser);
    }
}
