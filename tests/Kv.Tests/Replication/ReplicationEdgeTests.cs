using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kv.Persistence;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Edge cases: a misbehaving master (corrupt RDB, inline protocol in the stream), stale-data refusal, and the
/// redis-cli replication tools (--rdb, --replica) against a kv master.
/// </summary>
[Collection("replication")]
public class ReplicationEdgeTests(ITestOutputHelper output)
{
    private static byte[] Rdb(string key, string value)
    {
        var ms = new MemoryStream();
        var w = new RdbWriter(ms);
        w.WriteMagic();
        w.WriteDefaultAux(0, 0, null);
        w.WriteSelectDb(0);
        w.WriteResizeDb(1, 0);
        w.WriteKeyValue(Encoding.ASCII.GetBytes(key), Encoding.ASCII.GetBytes(value), -1);
        w.WriteEnd();
        w.Flush();
        return ms.ToArray();
    }

    private static async Task<string> ReadLineAsync(NetworkStream s)
    {
        var sb = new StringBuilder();
        var b = new byte[1];
        while (await s.ReadAsync(b) == 1)
        {
            if (b[0] == '\n') break;
            if (b[0] != '\r') sb.Append((char)b[0]);
        }
        return sb.ToString();
    }

    /// <summary>Reads one multibulk command and returns its arguments.</summary>
    private static async Task<List<string>> ReadCommandAsync(NetworkStream s)
    {
        string head;
        do head = await ReadLineAsync(s); while (head.Length == 0);
        int n = int.Parse(head[1..]);
        var args = new List<string>();
        for (int i = 0; i < n; i++)
        {
            await ReadLineAsync(s);
            args.Add(await ReadLineAsync(s));
        }
        return args;
    }

    private static async Task<List<string>> HandshakeAsync(NetworkStream s)
    {
        var ping = await ReadCommandAsync(s);
        Assert.Equal("PING", ping[0]);
        await s.WriteAsync("+PONG\r\n"u8.ToArray());
        var port = await ReadCommandAsync(s);
        Assert.Equal(["REPLCONF", "listening-port"], port.Take(2));
        var capa = await ReadCommandAsync(s);
        Assert.Equal(["REPLCONF", "capa", "eof", "capa", "psync2"], capa);
        await s.WriteAsync("+OK\r\n+OK\r\n"u8.ToArray());
        return await ReadCommandAsync(s);
    }

    [Fact]
    public async Task MisbehavingMasterKeepsOldDataAndDropsCachedMaster()
    {
        await using var env = new ReplEnv(output);
        var replica = await env.KvAsync();
        await ReplEnv.CmdAsync(replica, "SET", "old", "1");
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Assert.Equal("OK", await ReplEnv.TextAsync(replica, "REPLICAOF", "127.0.0.1", port.ToString()));
        var replid = new string('a', 40);

        // 1: an RDB with a corrupted CRC. The replica keeps its old data and retries.
        using (var c1 = await listener.AcceptTcpClientAsync())
        {
            var s = c1.GetStream();
            var psync = await HandshakeAsync(s);
            Assert.Equal(["PSYNC", "?", "-1"], psync);
            var rdb = Rdb("fromrdb", "x");
            rdb[^3] ^= 0x55;
            await s.WriteAsync(Encoding.ASCII.GetBytes($"+FULLRESYNC {replid} 100\r\n\n${rdb.Length}\r\n"));
            await s.WriteAsync(rdb);
            await Task.Delay(500);
        }
        Assert.Equal("1", await ReplEnv.TextAsync(replica, "GET", "old"));
        Assert.Null(RespFormat.Text(await ReplEnv.CmdAsync(replica, "GET", "fromrdb")));

        // 2: a good RDB (disk framing, keepalive newlines first), a command, then an inline command: link dropped.
        using (var c2 = await listener.AcceptTcpClientAsync())
        {
            var s = c2.GetStream();
            var psync = await HandshakeAsync(s);
            Assert.Equal(["PSYNC", "?", "-1"], psync);
            var rdb = Rdb("fromrdb", "x");
            await s.WriteAsync(Encoding.ASCII.GetBytes($"\n+FULLRESYNC {replid} 100\r\n\n\n${rdb.Length}\r\n"));
            await s.WriteAsync(rdb);
            await s.WriteAsync("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"u8.ToArray());
            // The replica ACKs the offset after the command (100 + 27).
            var sw = Stopwatch.StartNew();
            List<string> ack;
            do ack = await ReadCommandAsync(s); while (ack.Count == 3 && ack[2] != "127" && sw.ElapsedMilliseconds < 5000);
            Assert.Equal(["REPLCONF", "ACK", "127"], ack);
            // GETACK: answered with the offset before the GETACK itself.
            await s.WriteAsync("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"u8.ToArray());
            do ack = await ReadCommandAsync(s); while (ack[2] != "127" && sw.ElapsedMilliseconds < 5000);
            Assert.Equal("x", await ReplEnv.TextAsync(replica, "GET", "fromrdb"));
            Assert.Equal("v", await ReplEnv.TextAsync(replica, "GET", "k"));
            Assert.Null(RespFormat.Text(await ReplEnv.CmdAsync(replica, "GET", "old")));
            await s.WriteAsync("PING\r\n"u8.ToArray());
            await Task.Delay(300);
        }
        // 3: the cached master was discarded because of the protocol error: full sync again.
        using (var c3 = await listener.AcceptTcpClientAsync())
        {
            var psync = await HandshakeAsync(c3.GetStream());
            Assert.Equal(["PSYNC", "?", "-1"], psync);
        }
        Assert.Contains("inline protocol", replica.Log, StringComparison.OrdinalIgnoreCase);
        await ReplEnv.CmdAsync(replica, "REPLICAOF", "NO", "ONE");
    }

    [Fact]
    public async Task StaleDataRefusedWhenConfigured()
    {
        await using var env = new ReplEnv(output);
        var replica = await env.KvAsync("--replica-serve-stale-data", "no");
        int deadPort = ServerProcess.FreePort();
        await ReplEnv.CmdAsync(replica, "REPLICAOF", "127.0.0.1", deadPort.ToString());
        Assert.Equal("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", await ReplEnv.TextAsync(replica, "GET", "x"));
        Assert.StartsWith("# Replication", await ReplEnv.TextAsync(replica, "INFO", "replication"));
        var info = await ReplEnv.InfoAsync(replica, "replication");
        Assert.Equal("down", info["master_link_status"]);
        Assert.Equal("-1", info["master_last_io_seconds_ago"]);
        var role = RespFormat.Elements(await ReplEnv.CmdAsync(replica, "ROLE"))!;
        Assert.Equal(-1, RespFormat.Integer(role[4]));
        Assert.Equal("OK", await ReplEnv.TextAsync(replica, "REPLICAOF", "NO", "ONE"));
        Assert.Null(RespFormat.Text(await ReplEnv.CmdAsync(replica, "GET", "x")));
    }

    [Fact]
    public async Task RedisCliRdbAndReplicaAgainstKvMaster()
    {
        await using var env = new ReplEnv(output);
        var master = await env.KvAsync();
        await ReplEnv.PopulateAsync(master, "cli", 30);
        var file = Path.Combine(master.Dir, "cli-backup.rdb");
        var psi = new ProcessStartInfo(ServerPaths.RedisCli, ["-p", master.Port.ToString(), "--rdb", file]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using (var p = Process.Start(psi)!)
        {
            Assert.True(p.WaitForExit(20000));
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            Assert.Contains("Transfer finished with success", text);
        }
        var check = new ProcessStartInfo("/usr/bin/redis-check-rdb", [file]) { RedirectStandardOutput = true };
        using (var p = Process.Start(check)!)
        {
            var text = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(20000));
            Assert.Contains("\\o/ RDB looks OK! \\o/", text);
            Assert.Contains("[info] 90 keys read", text);
        }
        // The rdb-only client is gone once its RDB was sent.
        await env.WaitAsync(async () => (await ReplEnv.InfoAsync(master, "replication"))["connected_slaves"] == "0", "rdb-only client closed");

        var rpsi = new ProcessStartInfo(ServerPaths.RedisCli, ["-p", master.Port.ToString(), "--replica"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var rp = Process.Start(rpsi)!;
        var sb = new StringBuilder();
        rp.OutputDataReceived += (_, e) => { lock (sb) sb.AppendLine(e.Data); };
        rp.ErrorDataReceived += (_, e) => { lock (sb) sb.AppendLine(e.Data); };
        rp.BeginOutputReadLine();
        rp.BeginErrorReadLine();
        try
        {
            await env.WaitAsync(() => { lock (sb) return Task.FromResult(sb.ToString().Contains("SYNC done", StringComparison.OrdinalIgnoreCase)); }, "redis-cli --replica sync");
            await ReplEnv.CmdAsync(master, "SET", "seen-by-cli", "1");
            await env.WaitAsync(() => { lock (sb) return Task.FromResult(sb.ToString().Contains("seen-by-cli")); }, "command logged by redis-cli --replica");
        }
        finally
        {
            rp.Kill();
        }
    }
}
