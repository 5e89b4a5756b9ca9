using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Adb.Protocol;

// Raw adbd throughput: one host connection speaking the transport protocol directly (classic flow control, 1 MiB
// WRTEs), so the figure is adbd's own, without Debian's server in between.
// Usage: dotnet run -c Release --project bench/adb-daemon -- [--size-mb 1024] [--runs 3] [--adbd PATH]
int sizeMb = 1024, runs = 3;
string adbd = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../Adb.Daemon/release/adbd"));
for (int i = 0; i < args.Length - 1; i++)
{
    if (args[i] == "--size-mb") sizeMb = int.Parse(args[++i]);
    else if (args[i] == "--runs") runs = int.Parse(args[++i]);
    else if (args[i] == "--adbd") adbd = args[++i];
}
long total = (long)sizeMb << 20;
string dir = Directory.CreateTempSubdirectory("adbd-rawbench-").FullName;
if (Directory.Exists("/dev/shm")) { Directory.Delete(dir); dir = Path.Combine("/dev/shm", Path.GetFileName(dir)); Directory.CreateDirectory(dir); }
using var key = AdbKey.Generate();
File.WriteAllText(Path.Combine(dir, "keys"), key.PublicKeyLine("bench@local") + "\n");
var psi = new ProcessStartInfo(adbd) { RedirectStandardOutput = true, RedirectStandardError = true };
foreach (string a in (string[])["--port", "0", "--bind", "127.0.0.1", "--keys", Path.Combine(dir, "keys"), .. Environment.UserName == "root" ? new[] { "--user", "root" } : []])
    psi.ArgumentList.Add(a);
using var daemon = Process.Start(psi)!;
daemon.ErrorDataReceived += (_, _) => { };
daemon.BeginErrorReadLine();
int port = 0;
while (daemon.StandardOutput.ReadLine() is { } line)
    if (line.StartsWith("adbd listening on port ")) { port = int.Parse(line["adbd listening on port ".Length..]); break; }
if (port == 0) { Console.Error.WriteLine("adbd did not start"); return 1; }
try
{
    using var tcp = new TcpClient();
    tcp.NoDelay = true;
    tcp.SendBufferSize = tcp.ReceiveBufferSize = 4 << 20;
    await tcp.ConnectAsync("127.0.0.1", port);
    var s = new BufferedStream(tcp.GetStream(), 1 << 20);
    await Send(AdbCommand.CNXN, AdbVersion.Current, AdbVersion.MaxPayload, Encoding.UTF8.GetBytes("host::features=shell_v2\0"));
    var token = await Read();
    await Send(AdbCommand.AUTH, (uint)AdbAuthType.Signature, 0, key.SignToken(token.Payload.Span));
    var cnxn = await Read();
    if (cnxn.Command != AdbCommand.CNXN) throw new InvalidOperationException("no CNXN: " + cnxn);
    Console.WriteLine($"adbd raw throughput, {sizeMb} MiB per run, 1 MiB WRTEs, banner {Encoding.UTF8.GetString(cnxn.Payload.Span)}");
    uint nextId = 1;
    byte[] chunk = new byte[AdbVersion.MaxPayload];
    string shmFile = Path.Combine(dir, "data.bin");
    using (var fs = File.Create(shmFile)) { var b = new byte[1 << 20]; new Random(1).NextBytes(b); for (long w = 0; w < total; w += b.Length) fs.Write(b); }

    for (int r = 1; r <= runs; r++)
    {
        double stream = await PushStream("exec:cat >/dev/null");
        Console.Error.WriteLine("  exec in done");
        double syncPush = await SyncPush(Path.Combine(dir, "pushed.bin"));
        Console.Error.WriteLine("  sync push done");
        double pull = await PullStream($"exec:cat {shmFile}");
        Console.Error.WriteLine("  exec out done");
        double syncPull = await SyncPull(shmFile);
        Console.WriteLine($"run {r}: exec stream in {stream:F0} MB/s, sync push (tmpfs) {syncPush:F0} MB/s, exec stream out {pull:F0} MB/s, sync pull (tmpfs) {syncPull:F0} MB/s");
        File.Delete(Path.Combine(dir, "pushed.bin"));
    }
    return 0;

    async Task<uint> Open(string service)
    {
        uint id = nextId++;
        await Send(AdbCommand.OPEN, id, 0, Encoding.UTF8.GetBytes(service + "\0"));
        var ok = await Read();
        if (ok.Command != AdbCommand.OKAY) throw new InvalidOperationException($"{service}: {ok}");
        return ok.Arg0;
    }

    async Task<double> PushStream(string service)
    {
        uint remote = await Open(service);
        uint local = nextId - 1;
        var sw = Stopwatch.StartNew();
        for (long sent = 0; sent < total; sent += chunk.Length)
        {
            await Send(AdbCommand.WRTE, local, remote, chunk);
            var p = await Read();
            if (p.Command != AdbCommand.OKAY) throw new InvalidOperationException("expected OKAY, got " + p);
        }
        double rate = total / 1e6 / sw.Elapsed.TotalSeconds;
        await Send(AdbCommand.CLSE, local, remote, default); // no CLSE comes back for a CLSE
        return rate;
    }

    async Task<double> PullStream(string service)
    {
        var sw = Stopwatch.StartNew();
        uint remote = await Open(service);
        uint local = nextId - 1;
        long got = 0;
        while (true)
        {
            var p = await Read();
            if (p.Command == AdbCommand.CLSE) break;
            got += p.Payload.Length;
            await Send(AdbCommand.OKAY, local, remote, default);
        }
        if (got != total) throw new InvalidOperationException($"pulled {got} bytes, expected {total}");
        return got / 1e6 / sw.Elapsed.TotalSeconds;
    }

    async Task<double> SyncPush(string path)
    {
        uint remote = await Open("sync:");
        uint local = nextId - 1;
        var sw = Stopwatch.StartNew();
        // SEND header, then DATA records of 64 KiB packed into 1 MiB WRTEs, then DONE.
        var ms = new MemoryStream();
        ms.Write(SyncProtocol.Request(SyncCommand.SEND, path + ",33188"));
        byte[] data = new byte[SyncProtocol.DataMax];
        byte[] h = new byte[8];
        long sent = 0;
        while (sent < total)
        {
            int n = (int)Math.Min(data.Length, total - sent);
            SyncProtocol.WriteHeader(h, SyncCommand.DATA, (uint)n);
            ms.Write(h);
            ms.Write(data, 0, n);
            sent += n;
            if (ms.Length >= AdbVersion.MaxPayload - data.Length - 8 || sent == total)
            {
                if (sent == total) { SyncProtocol.WriteHeader(h, SyncCommand.DONE, 0); ms.Write(h); }
                await WriteAcked(local, remote, ms.GetBuffer().AsMemory(0, (int)ms.Length));
                ms.SetLength(0);
            }
        }
        var reply = await Read(); // WRTE with OKAY record
        if (reply.Command != AdbCommand.WRTE || !reply.Payload.Span.StartsWith("OKAY"u8)) throw new InvalidOperationException("SEND failed: " + Encoding.UTF8.GetString(reply.Payload.Span));
        await Send(AdbCommand.OKAY, local, remote, default);
        double rate = total / 1e6 / sw.Elapsed.TotalSeconds;
        await Send(AdbCommand.WRTE, local, remote, SyncProtocol.Request(SyncCommand.QUIT, ""));
        while ((await Read()).Command != AdbCommand.CLSE) { }
        return rate;
    }

    async Task WriteAcked(uint local, uint remote, ReadOnlyMemory<byte> payload)
    {
        await Send(AdbCommand.WRTE, local, remote, payload);
        var p = await Read();
        if (p.Command != AdbCommand.OKAY) throw new InvalidOperationException("expected OKAY, got " + p);
    }

    async Task<double> SyncPull(string path)
    {
        uint remote = await Open("sync:");
        uint local = nextId - 1;
        var sw = Stopwatch.StartNew();
        await Send(AdbCommand.WRTE, local, remote, SyncProtocol.Request(SyncCommand.RECV, path));
        var ack = await Read();
        if (ack.Command != AdbCommand.OKAY) throw new InvalidOperationException("expected OKAY, got " + ack);
        long bytes = 0;
        while (true)
        {
            var p = await Read();
            if (p.Command != AdbCommand.WRTE) throw new InvalidOperationException("expected WRTE, got " + p);
            bytes += p.Payload.Length;
            await Send(AdbCommand.OKAY, local, remote, default);
            // The stream ends with a DONE record (8 bytes) after DATA records of 8 + 65536 bytes.
            long dataRecords = (total + SyncProtocol.DataMax - 1) / SyncProtocol.DataMax;
            if (bytes >= total + dataRecords * 8 + 8) break;
        }
        double rate = total / 1e6 / sw.Elapsed.TotalSeconds;
        await Send(AdbCommand.WRTE, local, remote, SyncProtocol.Request(SyncCommand.QUIT, ""));
        while (true) { var p = await Read(); if (p.Command == AdbCommand.CLSE) break; if (p.Command == AdbCommand.WRTE) continue; }
        return rate;
    }

    async Task Send(uint cmd, uint a0, uint a1, ReadOnlyMemory<byte> payload)
    {
        await AdbPacketIO.WriteAsync(s, cmd, a0, a1, payload, false);
    }

    async Task<AdbPacket> Read() => await AdbPacketIO.ReadAsync(s, AdbVersion.MaxPayload) ?? throw new EndOfStreamException();
}
finally
{
    try { daemon.Kill(true); } catch (Exception) { }
    Directory.Delete(dir, true);
}
