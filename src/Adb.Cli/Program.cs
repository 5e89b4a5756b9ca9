using Adb.Cli.Client;
using Adb.Cli.Server;

namespace Adb.Cli;

/// <summary>
/// Entry point of <c>adb</c>: global options (-s, -t, -d, -e, -H, -P, -L), the server modes (server nodaemon,
/// fork-server) and the client commands (AOSP <c>client/commandline.cpp</c> adb_commandline).
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        try
        {
            return await RunAsync(args);
        }
        catch (AdbException e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine(e.Message.StartsWith("adb: ", StringComparison.Ordinal) || e.Message.StartsWith("cannot connect", StringComparison.Ordinal)
                ? e.Message : "error: " + e.Message);
            return 1;
        }
    }

    /// <summary>Parses global options and runs one command; returns the exit code.</summary>
    internal static async Task<int> RunAsync(string[] args)
    {
        var o = new ClientOptions();
        if (Environment.GetEnvironmentVariable("ANDROID_ADB_SERVER_PORT") is { Length: > 0 } envPort)
        {
            if (!int.TryParse(envPort, out int p) || p <= 0 || p > 65535)
                throw new AdbException($"adb: Env var ANDROID_ADB_SERVER_PORT must be a positive number less than 65535: got \"{envPort}\"");
            o.ServerPort = p;
        }
        if (Environment.GetEnvironmentVariable("ANDROID_SERIAL") is { Length: > 0 } envSerial) o.Serial = envSerial;
        bool daemonFork = false;
        int replyFd = -1;
        int i = 0;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "-s" && i + 1 < args.Length) o.Serial = args[++i];
            else if (a.StartsWith("-s", StringComparison.Ordinal) && a.Length > 2) o.Serial = a[2..];
            else if (a == "-t" && i + 1 < args.Length)
            {
                if (!long.TryParse(args[++i], out long id) || id <= 0) throw new AdbException($"adb: invalid transport id '{args[i]}'");
                o.TransportId = id;
            }
            else if (a == "-d") o.Type = TransportType.Usb;
            else if (a == "-e") o.Type = TransportType.Local;
            else if (a == "-H" && i + 1 < args.Length) o.ServerHost = args[++i];
            else if (a == "-P" && i + 1 < args.Length)
            {
                if (!int.TryParse(args[++i], out int p) || p <= 0 || p > 65535) throw new AdbException($"adb: invalid port '{args[i]}'");
                o.ServerPort = p;
            }
            else if (a == "-L" && i + 1 < args.Length)
            {
                string spec = args[++i];
                string portText = spec.StartsWith("tcp:", StringComparison.Ordinal) ? spec[(spec.LastIndexOf(':') + 1)..] : "";
                if (!int.TryParse(portText, out int p) || p <= 0 || p > 65535) throw new AdbException($"adb: unsupported server socket spec '{spec}'");
                o.ServerPort = p;
            }
            else if (a == "-a") { }
            else if (a == "fork-server") daemonFork = true;
            else if (a == "--reply-fd" && i + 1 < args.Length) replyFd = int.TryParse(args[++i], out int fd) ? fd : -1;
            else if (a == "nodaemon") { }
            else break;
        }
        string[] rest = args[i..];
        if (rest.Length == 0)
        {
            // AOSP 29 prints its help to stdout and exits 1 when no command follows the options.
            Console.Out.Write(Usage.Text);
            return 1;
        }
        string cmd = rest[0];
        if (cmd == "server")
        {
            // "adb server [nodaemon]" runs in the foreground; "fork-server server" detaches after binding.
            for (int j = 1; j < rest.Length; j++)
            {
                if (rest[j] == "--reply-fd" && j + 1 < rest.Length) replyFd = int.TryParse(rest[++j], out int fd) ? fd : -1;
            }
            return await ServerMain.RunAsync(o.ServerPort, daemonFork, replyFd);
        }
        var client = new AdbClient(o);
        var cli = new CommandLine(client);
        return await cli.RunAsync(cmd, rest[1..]);
    }
}
