using System.Text;

namespace Adb.Cli.Client;

/// <summary>
/// The client commands, with AOSP's messages and exit codes (<c>client/commandline.cpp</c>, checked against
/// Debian's adb 29.0.6).
/// </summary>
internal sealed partial class CommandLine(AdbClient client)
{
    /// <summary>Runs <paramref name="cmd"/> with its arguments; returns the exit code.</summary>
    public async Task<int> RunAsync(string cmd, string[] args)
    {
        switch (cmd)
        {
            case "devices": return await DevicesAsync(args);
            case "version":
            case "--version":
                Console.Out.Write(Usage.Version);
                return 0;
            case "start-server":
                (await client.ConnectAsync()).Dispose();
                return 0;
            case "kill-server":
                if (!await client.KillServerAsync())
                    Console.Error.WriteLine($"cannot connect to daemon at tcp:{client.Options.ServerPort}: Connection refused");
                return 0;
            case "connect":
                if (args.Length != 1) throw new AdbException("adb: usage: adb connect <host>[:<port>]");
                Console.Out.Write(await client.QueryAsync($"host:connect:{args[0]}") + "\n");
                return 0;
            case "disconnect":
                if (args.Length > 1) throw new AdbException("adb: usage: adb disconnect [<host>[:<port>]]");
                Console.Out.Write(await client.QueryAsync($"host:disconnect:{(args.Length == 1 ? args[0] : "")}") + "\n");
                return 0;
            case "get-state":
            case "get-serialno":
            case "get-devpath":
                Console.Out.Write(await client.QueryAsync(client.FormatHostCommand(cmd)) + "\n");
                return 0;
            case "features":
                // AOSP 29 prints the parsed feature set, one name per line (its order is the std::unordered_set's;
                // ours is the device's).
                foreach (var name in (await client.QueryAsync(client.FormatHostCommand(cmd))).Split(',', StringSplitOptions.RemoveEmptyEntries))
                    Console.Out.Write(name + "\n");
                return 0;
            case "host-features":
                Console.Out.Write(await client.QueryAsync("host:host-features") + "\n");
                return 0;
            case "forward": return await ForwardAsync(args);
            case "reverse": return await ReverseAsync(args);
            case "shell": return await ShellAsync(args);
            case "exec-out": return await ExecOutAsync(args);
            case "push": return await PushAsync(args);
            case "pull": return await PullAsync(args);
            case "ls": return await LsAsync(args);
            case "root":
            case "unroot": return await RootAsync(cmd);
            case "reboot":
                return await ServiceToStdoutAsync("reboot:" + (args.Length > 0 ? args[0] : ""));
            case "tcpip":
                if (args.Length != 1) throw new AdbException("adb: tcpip requires an argument");
                if (!int.TryParse(args[0], out int port) || port <= 0 || port > 65535) throw new AdbException($"adb: tcpip: invalid port: {args[0]}");
                return await ServiceToStdoutAsync($"tcpip:{port}");
            case "usb":
                return await ServiceToStdoutAsync("usb:");
            case "help":
            case "--help":
                // AOSP: help to stdout, exit 0, whatever follows.
                Console.Out.Write(Usage.Text);
                return 0;
        }
        if (cmd.StartsWith("wait-for-", StringComparison.Ordinal)) return await WaitForAsync(cmd);
        Console.Error.WriteLine($"adb: unknown command {cmd}");
        return 1;
    }

    private async Task<int> DevicesAsync(string[] args)
    {
        bool longForm = false;
        foreach (string a in args)
        {
            if (a == "-l") longForm = true;
            else throw new AdbException($"adb: usage: adb devices [-l]");
        }
        string list = await client.QueryAsync(longForm ? "host:devices-l" : "host:devices");
        Console.Out.Write("List of devices attached\n" + list + "\n");
        return 0;
    }

    private async Task<int> ForwardAsync(string[] args)
    {
        if (args.Length == 1 && args[0] == "--list")
        {
            Console.Out.Write(await client.QueryAsync(client.FormatHostCommand("list-forward")) + "\n");
            return 0;
        }
        string request;
        if (args.Length == 1 && args[0] == "--remove-all") request = "killforward-all";
        else if (args.Length == 2 && args[0] == "--remove") request = $"killforward:{args[1]}";
        else if (args.Length == 3 && args[0] == "--no-rebind") request = $"forward:norebind:{args[1]};{args[2]}";
        else if (args.Length == 2 && !args[0].StartsWith('-')) request = $"forward:{args[0]};{args[1]}";
        else throw new AdbException("adb: usage: adb forward --list | --remove LOCAL | --remove-all | [--no-rebind] LOCAL REMOTE");
        try
        {
            using var s = await client.CommandAsync(client.FormatHostCommand(request));
            string? fail = SmartSocket.ReadStatus(s);
            if (fail != null) throw new AdbException(fail);
            if (request.StartsWith("forward:", StringComparison.Ordinal) && request.Contains("tcp:0"))
            {
                try { Console.Out.Write(SmartSocket.ReadProtocolString(s) + "\n"); } catch (AdbException) { }
            }
        }
        catch (AdbException e) when (!e.Message.StartsWith("adb: ", StringComparison.Ordinal))
        {
            throw new AdbException("adb: error: " + e.Message);
        }
        return 0;
    }

    private async Task<int> ReverseAsync(string[] args)
    {
        string request;
        bool list = false;
        if (args.Length == 1 && args[0] == "--list") { request = "reverse:list-forward"; list = true; }
        else if (args.Length == 1 && args[0] == "--remove-all") request = "reverse:killforward-all";
        else if (args.Length == 2 && args[0] == "--remove") request = $"reverse:killforward:{args[1]}";
        else if (args.Length == 3 && args[0] == "--no-rebind") request = $"reverse:forward:norebind:{args[1]};{args[2]}";
        else if (args.Length == 2 && !args[0].StartsWith('-')) request = $"reverse:forward:{args[0]};{args[1]}";
        else throw new AdbException("adb: usage: adb reverse --list | --remove REMOTE | --remove-all | [--no-rebind] REMOTE LOCAL");
        var (s, _) = await client.OpenServiceAsync(request);
        using (s)
        {
            if (list)
            {
                Console.Out.Write(SmartSocket.ReadProtocolString(s) + "\n");
                return 0;
            }
            string? fail;
            try { fail = SmartSocket.ReadStatus(s); }
            catch (AdbException e) { throw new AdbException("adb: error: " + e.Message); }
            if (fail != null) throw new AdbException("adb: error: " + fail);
            if (request.Contains("tcp:0"))
            {
                try { Console.Out.Write(SmartSocket.ReadProtocolString(s) + "\n"); } catch (AdbException) { }
            }
        }
        return 0;
    }

    private async Task<int> WaitForAsync(string cmd)
    {
        // wait-for[-TRANSPORT]-STATE
        string[] parts = cmd.Split('-');
        string transport = "any", state;
        if (parts.Length == 3) state = parts[2];
        else if (parts.Length == 4) { transport = parts[2]; state = parts[3]; }
        else throw new AdbException($"adb: unknown command {cmd}");
        if (transport is not ("any" or "usb" or "local"))
            throw new AdbException($"adb: unknown type {transport}; expected 'any', 'local', or 'usb'");
        if (state is not ("any" or "bootloader" or "device" or "recovery" or "rescue" or "sideload" or "disconnect"))
            throw new AdbException($"adb: unknown state {state}; expected 'any', 'bootloader', 'device', 'recovery', 'rescue', 'sideload', or 'disconnect'");
        using var s = await client.CommandAsync(client.FormatHostCommand($"wait-for-{transport}-{state}"));
        string? fail = SmartSocket.ReadStatus(s);
        if (fail != null) throw new AdbException(fail);
        return 0;
    }

    /// <summary>Opens a device service and copies its output to stdout until EOF.</summary>
    private async Task<int> ServiceToStdoutAsync(string service)
    {
        var (s, _) = await client.OpenServiceAsync(service);
        using (s)
        {
            using var stdout = new StdoutStream(1);
            s.CopyTo(stdout);
        }
        return 0;
    }

    private async Task<int> RootAsync(string cmd)
    {
        System.Net.Sockets.NetworkStream s;
        long tid;
        try { (s, tid) = await client.OpenServiceAsync(cmd + ":"); }
        catch (AdbException e) { throw new AdbException($"adb: unable to connect for {cmd}: {e.Message}"); }
        var ms = new MemoryStream();
        using (s) s.CopyTo(ms);
        string reply = Encoding.UTF8.GetString(ms.ToArray());
        Console.Out.Write(reply);
        Console.Out.Flush();
        if (!reply.Contains("restarting")) return 0;
        // Wait for the device to go away and come back (AOSP: wait-for-disconnect by id, then wait-for-device, 6 s).
        var byId = new AdbClient(new ClientOptions { ServerHost = client.Options.ServerHost, ServerPort = client.Options.ServerPort, TransportId = tid });
        try
        {
            using var d = await byId.CommandAsync(byId.FormatHostCommand("wait-for-any-disconnect"));
            var st = Task.Run(() => SmartSocket.ReadStatus(d));
            await Task.WhenAny(st, Task.Delay(3000));
        }
        catch (AdbException) { }
        using var w = await client.CommandAsync(client.FormatHostCommand("wait-for-any-device"));
        var wait = Task.Run(() => SmartSocket.ReadStatus(w));
        if (await Task.WhenAny(wait, Task.Delay(6000)) != wait) throw new AdbException("timeout expired while waiting for device");
        string? fail = await wait;
        if (fail != null) throw new AdbException(fail);
        return 0;
    }
}
